"""Runs inside real Krita (kritarunner under Xvfb, see test_krita_real.py): loads the installed plugin through its
pykrita entry, opens a window, and drives every command through the plugin's own menu actions and QTimer against a
real daemon. It only records facts (layers, masks, pixels, messages) in a JSON file; the pytest side asserts on them,
because kritarunner exits 0 whatever a script does.

Environment: CHROMASEG_KRITA_PLUGIN_DIR (the pykrita folder the plugin was installed in), CHROMASEG_KRITA_RESULT
(the JSON file to write), CHROMASEG_KRITA_PROGRESS (where each stage reached is noted, so a Krita that dies can be
told apart by when: in its own start-up or in a scenario), CHROMASEG_KRITA_PHOTO (a photo, made gray here),
CHROMASEG_ENDPOINT (the daemon), CHROMASEG_KRITA_SCENARIOS (comma-separated names), CHROMASEG_KRITA_SHOTS (where
`screenshots` saves its PNGs).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from typing import Any, Callable, Generator

from krita import Krita, Selection
from PyQt5.QtCore import QCoreApplication, QEventLoop, QRect
from PyQt5.QtGui import QImage

SIZE = 256
Facts = dict[str, Any]


def _events(seconds: float = 0.05) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.AllEvents, 20)


def gray_photo_bgra(size: int = SIZE) -> bytes:
    image = QImage(os.environ["CHROMASEG_KRITA_PHOTO"]).scaled(size, size)
    image = image.convertToFormat(QImage.Format_Grayscale8).convertToFormat(QImage.Format_ARGB32)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    return bytes(bits)  # ARGB32 on a little-endian machine: B, G, R, A bytes, as Krita stores U8 RGBA


def new_doc(window: Any, depth: str = "U8", profile: str = "", model: str = "RGBA", size: int = SIZE) -> Any:
    k = Krita.instance()
    doc = k.createDocument(size, size, f"gray {depth}", "RGBA" if model == "RGBA" else model, depth if model == "RGBA"
                           else "U8", profile, 72.0)
    layer = doc.rootNode().childNodes()[0]
    data = gray_photo_bgra(size)
    if model != "RGBA":
        data = data[0::4] + b""  # gray plane, then alpha below
        gray = bytearray(2 * size * size)
        gray[0::2] = data
        gray[1::2] = b"\xff" * (size * size)
        data = bytes(gray)
    elif depth == "U16":
        wide = bytearray(2 * len(data))
        wide[0::2] = data
        wide[1::2] = data
        data = bytes(wide)
    layer.setPixelData(data, 0, 0, size, size)
    if model == "RGBA" and depth == "F32":
        doc.setColorSpace("RGBA", "F32", profile)  # a U8 document converted to linear float by Krita
    doc.waitForDone()
    window.addView(doc)
    _events()
    return doc


def activate(doc: Any, node: Any) -> str:
    """Make `node` the active layer (Krita applies it through its event loop); returns the active layer's name."""
    end = time.monotonic() + 10
    while doc.activeNode().name() != node.name() and time.monotonic() < end:
        doc.setActiveNode(node)  # again until it takes: Krita can drop the request (seen for a selection mask)
        _events(0.25)
    return doc.activeNode().name()


def digest(node: Any) -> str:
    return hashlib.sha256(bytes(node.pixelData(0, 0, SIZE, SIZE))).hexdigest()


def start(window: Any, depth: str = "U8", profile: str = "") -> tuple[Any, Any, str]:
    """A new gray-photo document, its source layer and the source's digest (to prove it is never changed)."""
    doc = new_doc(window, depth, profile)
    source = doc.rootNode().childNodes()[0]
    return doc, source, digest(source)


def tree(node: Any) -> list[Facts]:
    return [{"name": n.name(), "type": n.type(), "blending": n.blendingMode(), "children": tree(n)}
            for n in node.childNodes()]


def select(doc: Any, x: int, y: int, w: int, h: int) -> None:
    selection = Selection()
    selection.select(x, y, w, h, 255)
    doc.setSelection(selection)
    doc.waitForDone()


def selection_facts(doc: Any) -> Facts | None:
    s = doc.selection()
    if s is None:
        return None
    data = bytes(s.pixelData(0, 0, SIZE, SIZE))
    return {"box": [s.x(), s.y(), s.width(), s.height()], "selected": SIZE * SIZE - data.count(0),
            "digest": hashlib.sha256(data).hexdigest()}


def command(key: str, limit: float = 300.0) -> Facts:
    """Trigger the plugin's menu action and let Krita's event loop (and the plugin's QTimer) run until it is over."""
    return until_over(Krita.instance().action(f"chromaseg_{key}").trigger, limit)


def until_over(start: Callable[[], Any], limit: float = 300.0) -> Facts:
    """Start a command (a menu action, a docker button) and let Krita's event loop run until it is over."""
    from chromaseg.plugins.krita.shared import shared_controller

    controller = shared_controller()
    messages: list[str] = []
    controller.add_listener(lambda u: messages.append(f"{u.state.value}: {u.message}"))
    start()
    end = time.monotonic() + limit  # only stops a hung run; the tests assert on no time
    while controller.runner.busy and time.monotonic() < end:
        _events(0.02)
    controller._listeners.pop()
    return {"state": controller.last.state.value, "message": controller.last.message, "updates": messages,
            "pumped_by_timer": any(m.startswith("running") for m in messages)}


def shown_at_once(doc: Any, node: Any) -> Facts:
    """What the canvas has of `node` right after a command, before anything here refreshes the projection: the
    node's bounds (a Krita 5.1 group's come from its projection) and the colored pixels of the image."""
    b = node.bounds()
    return {"bounds": [b.x(), b.y(), b.width(), b.height()],
            "colored": colorfulness(bytes(doc.pixelData(0, 0, doc.width(), doc.height())))}


def canvas_image(window: Any) -> Any:
    """What the active view's canvas shows now (the selection's marching ants included)."""
    from PyQt5.QtWidgets import QWidget

    _events(0.5)
    canvases = [w for w in window.qwindow().findChildren(QWidget)
                if "Canvas" in w.metaObject().className() and w.isVisible()]
    return max(canvases, key=lambda w: w.width() * w.height()).grab().toImage()


def changed_pixels(a: Any, b: Any) -> int:
    return sum(1 for y in range(a.height()) for x in range(0, a.width(), 2) if a.pixel(x, y) != b.pixel(x, y))


def pixels(doc: Any, x: int, y: int) -> list[int]:
    """The composited image (projection) at one pixel, B G R A."""
    doc.refreshProjection()
    return list(bytes(doc.pixelData(x, y, 1, 1)))


def colorfulness(data: bytes) -> int:
    """How many 8-bit BGRA pixels are not gray."""
    return sum(1 for i in range(0, len(data), 4) if not data[i] == data[i + 1] == data[i + 2])


def undo(doc: Any) -> None:
    Krita.instance().action("edit_undo").trigger()
    doc.waitForDone()
    _events()


# --- scenarios ---------------------------------------------------------------------------------------------------


def docker_widget() -> Any:
    from chromaseg.plugins.krita.extension import DOCKER_ID

    return next(d for d in Krita.instance().dockers() if d.objectName() == DOCKER_ID)


def scenario_plugin(window: Any) -> Facts:
    import chromaseg.plugins.krita
    from chromaseg.plugins.krita.shared import shared_controller

    k = Krita.instance()
    docker = docker_widget()
    docker.model_vibrancy.setChecked(False)  # the artist's own vibrancy instead of the model's
    docker.vibrancy.setValue(0.5)  # the docker's widgets store settings in kritarc and the controller uses them
    docker.harmonize.setChecked(True)
    stored = {name: k.readSetting("chromaseg", name, "") for name in ("vibrancy", "harmonize")}
    used = (shared_controller().settings.vibrancy, shared_controller().settings.harmonize)
    docker.vibrancy.setValue(0.38)
    docker.harmonize.setChecked(False)
    shared_controller().runner.colorizers = ["siggraph17"]  # as a daemon with it installed would say in `info`
    docker.show_colorizers(None)
    colorizers = [docker.colorizer.itemText(i) for i in range(docker.colorizer.count())]
    docker.colorizer.setCurrentIndex(1)
    colorizer_stored = (k.readSetting("chromaseg", "colorizer", ""), shared_controller().settings.colorizer)
    docker.colorizer.setCurrentIndex(0)
    return {
        "colorizers": colorizers,
        "colorizer_stored": colorizer_stored,
        "colorizer_reset": k.readSetting("chromaseg", "colorizer", "x"),
        "docker_height": {"content": docker.scroll.widget().sizeHint().height(),
                          "minimum": docker.minimumSizeHint().height(),
                          "settings_hidden": docker.daemon_settings.isHidden()},
        "docker_stored": stored,
        "docker_used": used,
        "vendored_from": chromaseg.plugins.krita.__file__,
        "extensions": [type(e).__name__ for e in k.extensions()],
        "dockers": [d.objectName() for d in k.dockers()],
        "docker_titles": [d.windowTitle() for d in k.dockers()],
        "menu": [a.text() for m in window.qwindow().menuBar().actions() if m.menu() and m.menu().objectName() ==
                 "chromaseg" for a in m.menu().actions()],
        "krita": k.version(),
    }


def scenario_colorize_selection(window: Any) -> Facts:
    doc, source, before = start(window)
    select(doc, 64, 48, 128, 112)
    result = command("colorize_selection")
    nodes = doc.rootNode().childNodes()
    docker = docker_widget()
    facts: Facts = {"result": result, "shown_at_once": shown_at_once(doc, nodes[-1]),
                    "tree": tree(doc.rootNode()), "source_unchanged": digest(source) == before,
                    "docker": {"message": docker.message.text(), "cancel_enabled": docker.cancel_button.isEnabled(),
                               "progress": docker.bar.value(), "status": docker.status.text()},
                    "inside": pixels(doc, 128, 100), "outside": pixels(doc, 10, 10),
                    "source_outside": list(bytes(source.pixelData(10, 10, 1, 1)))}
    if len(nodes) > 1:
        doc.refreshProjection()
        facts["colored_inside"] = colorfulness(bytes(doc.pixelData(64, 48, 128, 112)))
        facts["colored_outside"] = colorfulness(bytes(doc.pixelData(0, 0, SIZE, 40)))
    undo(doc)
    facts["after_undo"] = [n.name() for n in doc.rootNode().childNodes()]
    facts["source_unchanged_after_undo"] = digest(source) == before
    return facts


def scenario_hints_layer_harmonize(window: Any) -> Facts:
    doc, source, before = start(window)
    facts: Facts = {"hint_layer": command("hint_layer")}
    hints = doc.nodeByName("Color hints")
    hints.setPixelData(bytes([0, 0, 255, 255]) * 64, 100, 100, 8, 8)  # a red patch (BGRA)
    facts["hint_layer_is_active"] = activate(doc, hints)  # as after painting on it (the plugin made it active)
    facts["hint_layer_active"] = command("colorize_layer")  # the hint layer leads to the layer it was made for
    first = next(n for n in doc.rootNode().childNodes() if n.name().startswith("Colorized"))
    facts["first_result"] = {"name": first.name(), **shown_at_once(doc, first)}
    facts["active_for_colorize"] = activate(doc, source)
    facts["colorize_layer"] = command("colorize_layer")
    facts["stack"] = [n.name() for n in doc.rootNode().childNodes()]
    nodes = doc.rootNode().childNodes()
    colorized = nodes[-1]
    for node in nodes:
        if node.name().startswith("Colorized"):
            colorized = node
    facts["colorized"] = {"name": colorized.name(), "type": colorized.type(), "children": tree(colorized),
                          "colored": colorfulness(bytes(colorized.pixelData(0, 0, SIZE, SIZE)))}
    facts["active_for_harmonize"] = activate(doc, colorized)
    facts["harmonize_layer"] = command("harmonize_layer")
    facts["tree"] = tree(doc.rootNode())
    facts["source_unchanged"] = digest(source) == before
    return facts


def dot(node: Any, x: int, y: int, bgra: bytes, size: int = 4) -> None:
    """A square dot painted on a U8 paint layer (a brush dab, without the brush settings)."""
    node.setPixelData(bgra * (size * size), x - size // 2, y - size // 2, size, size)


def clear(node: Any) -> None:
    node.setPixelData(bytes(4 * SIZE * SIZE), 0, 0, SIZE, SIZE)


def selected_at(doc: Any, x: int, y: int) -> int:
    s = doc.selection()
    return 0 if s is None else bytes(s.pixelData(x, y, 1, 1))[0]


GREEN, RED = b"\x00\xff\x00\xff", b"\x00\x00\xff\xff"  # BGRA
BOX = (120, 60, 110, 150)  # around the photo's subject
CENTER = (BOX[0] + BOX[2] // 2, BOX[1] + BOX[3] // 2)


def scenario_select_object(window: Any) -> Facts:
    doc, source, before = start(window)
    select(doc, *BOX)
    prompt = selection_facts(doc)
    facts: Facts = {"prompt": prompt, "replace": command("select_object"), "replaced": selection_facts(doc)}
    with_ants = canvas_image(window)
    doc.setSelection(None)
    facts["ants"] = changed_pixels(with_ants, canvas_image(window))  # the object's outline, gone when deselected
    # Add needs a click: refused with the selection as it was
    select(doc, 10, 10, 20, 20)
    facts["add_refused"] = command("select_object_add")
    facts["after_add_refused"] = selection_facts(doc)
    # clicks: the layer, then one green dot on the subject, nothing selected
    facts["clicks_layer"] = command("clicks_layer")
    clicks = doc.nodeByName("Object clicks")
    facts["clicks_active"] = doc.activeNode().name()
    dot(clicks, *CENTER, GREEN)
    doc.setSelection(None)
    facts["click"] = command("select_object")
    facts["clicked"] = selection_facts(doc)
    facts["clicked_at_dot"] = selected_at(doc, *CENTER)
    # a red dot on a part of that object far from the green one: the object without it
    s = bytes(doc.selection().pixelData(0, 0, SIZE, SIZE)) if doc.selection() is not None else bytes(SIZE * SIZE)
    far = max(((i % SIZE, i // SIZE) for i in range(SIZE * SIZE) if s[i] == 255),
              key=lambda p: (p[0] - CENTER[0]) ** 2 + (p[1] - CENTER[1]) ** 2, default=CENTER)
    # step back towards the green dot so the red one sits inside the object, not on its outline
    neg = (far[0] + (CENTER[0] - far[0]) // 6, far[1] + (CENTER[1] - far[1]) // 6)
    in_box = [(x, y) for y in range(BOX[1], BOX[1] + BOX[3]) for x in range(BOX[0], BOX[0] + BOX[2])]
    facts["clicked_in_box"] = sum(1 for x, y in in_box if s[y * SIZE + x] == 255)
    facts["box_not_object"] = next(([x, y] for x, y in in_box if s[y * SIZE + x] == 0), None)
    facts["negative_point"] = list(neg)
    facts["negative_was_selected"] = s[neg[1] * SIZE + neg[0]]
    dot(clicks, *neg, RED)
    facts["click_negative"] = command("select_object")
    facts["clicked_negative"] = selection_facts(doc)
    facts["negative_now"] = selected_at(doc, *neg)
    clear(clicks)
    dot(clicks, *CENTER, GREEN)
    # Add: a small selection away from the subject plus the object under the dot, nothing between them
    select(doc, 10, 10, 20, 20)
    facts["add"] = command("select_object_add")
    facts["added"] = selection_facts(doc)
    facts["added_at"] = {"small_box": selected_at(doc, 15, 15), "dot": selected_at(doc, *CENTER),
                         "between": selected_at(doc, 60, 40)}
    # Subtract: the box minus the object under the dot
    select(doc, *BOX)
    facts["subtract"] = command("select_object_subtract")
    facts["subtracted"] = selection_facts(doc)
    keep = facts["box_not_object"]
    facts["subtracted_at"] = {"box_not_object": None if keep is None else selected_at(doc, *keep),
                              "dot": selected_at(doc, *CENTER)}
    facts["layers"] = [n.name() for n in doc.rootNode().childNodes()]
    facts["source_unchanged"] = digest(source) == before
    return facts


def scenario_vibrancy(window: Any) -> Facts:
    """The docker's Vibrancy in an artist's terms: the same photo colorized at 0, 0.5 and 1 from the docker's own
    widget; each result's mean saturation (max - min of R, G, B)."""
    from chromaseg.plugins.krita.shared import shared_controller

    doc = new_doc(window)
    source = doc.rootNode().childNodes()[0]
    docker = docker_widget()
    docker.model_vibrancy.setChecked(False)
    facts: Facts = {"results": []}
    for value in (0.0, 0.5, 1.0):
        docker.vibrancy.setValue(value)
        activate(doc, source)
        facts["results"].append({"set": value, "used": shared_controller().settings.vibrancy,
                                 "run": command("colorize_layer")})
        top = [n for n in doc.rootNode().childNodes() if n.name().startswith("Colorized")][-1]
        data = bytes(top.pixelData(0, 0, SIZE, SIZE))
        facts["results"][-1]["name"] = top.name()
        facts["results"][-1]["saturation"] = sum(
            max(data[i : i + 3]) - min(data[i : i + 3]) for i in range(0, len(data), 4)) / (SIZE * SIZE)
    docker.model_vibrancy.setChecked(True)
    return facts


def scenario_hint_at_selection(window: Any) -> Facts:
    from krita import ManagedColor

    doc, source, before = start(window)
    facts: Facts = {"refused": command("hint_at_selection")}
    color = ManagedColor("RGBA", "U8", "")
    color.setComponents([0.0, 128 / 255, 1.0, 1.0])  # B, G, R, A: orange
    window.activeView().setForeGroundColor(color)
    select(doc, 60, 70, 6, 6)
    facts["hint"] = command("hint_at_selection")
    hints = doc.nodeByName("Color hints")
    facts["hint_layer"] = None if hints is None else hints.name()
    data = bytes(hints.pixelData(0, 0, SIZE, SIZE)) if hints is not None else b""
    painted = [i for i in range(SIZE * SIZE) if data and data[4 * i + 3]]
    facts["painted"] = {"count": len(painted), "first": [painted[0] % SIZE, painted[0] // SIZE] if painted else None,
                        "bgra": list(data[4 * painted[0] : 4 * painted[0] + 4]) if painted else None}
    facts["active"] = doc.activeNode().name()
    facts["list_hints"] = command("list_hints")
    activate(doc, source)
    facts["colorize"] = command("colorize_layer")
    colorized = next((n for n in doc.rootNode().childNodes() if n.name().startswith("Colorized")), None)
    facts["colorized"] = None if colorized is None else colorized.name()
    if colorized is not None:
        facts["colorized_at_hint"] = list(bytes(colorized.pixelData(63, 73, 1, 1)))
        undo(doc)  # the result
    undo(doc)  # the fill, one step: the hint layer stays, empty
    facts["after_undo"] = {"layers": [n.name() for n in doc.rootNode().childNodes() if n.type() != "selectionmask"],
                           "painted": 0 if hints is None else SIZE * SIZE - bytes(hints.pixelData(
                               0, 0, SIZE, SIZE))[3::4].count(0)}
    facts["source_unchanged"] = digest(source) == before
    return facts


def scenario_auto_segment(window: Any) -> Facts:
    doc, source, before = start(window)
    facts: Facts = {"result": command("auto_segment"), "tree": tree(doc.rootNode())}
    group = doc.rootNode().childNodes()[-1]
    facts["mask_pixels"] = [SIZE * SIZE - bytes(m.selection().pixelData(0, 0, SIZE, SIZE)).count(0)
                            for m in group.childNodes() if m.type() == "selectionmask"]
    # Select Segment: refused while the paint layer is active (the selection stays), then the largest segment
    select(doc, 10, 10, 20, 20)
    activate(doc, source)
    facts["refused"] = command("select_segment")
    facts["after_refusal"] = selection_facts(doc)
    segment = max(group.childNodes(), key=lambda m: bytes(m.selection().pixelData(0, 0, SIZE, SIZE)).count(255))
    facts["segment"] = {"name": segment.name(), "active": activate(doc, segment)}
    data = bytes(segment.selection().pixelData(0, 0, SIZE, SIZE))
    facts["segment"].update(selected=SIZE * SIZE - data.count(0), digest=hashlib.sha256(data).hexdigest())
    facts["select_segment"] = command("select_segment")
    facts["selected"] = selection_facts(doc)
    facts["active_after"] = doc.activeNode().name()
    undo(doc)  # one Undo: the selection before Select Segment, the segments group kept
    facts["after_undo"] = {**selection_facts(doc), "group_kept": group.name() in [n.name() for n in
                                                                                   doc.rootNode().childNodes()]}
    facts["source_unchanged"] = digest(source) == before
    return facts


def scenario_depths(window: Any) -> Facts:
    facts: Facts = {}
    for depth, profile in (("U16", ""), ("F32", "sRGB-elle-V2-g10.icc")):
        doc, source, before = start(window, depth, profile)
        select(doc, 64, 64, 96, 96)
        facts[depth] = {"space": [source.colorDepth(), source.colorProfile()],
                        "result": command("colorize_selection"), "tree": tree(doc.rootNode()),
                        "source_unchanged": digest(source) == before}
        nodes = doc.rootNode().childNodes()
        if len(nodes) > 1:
            pixels_node = nodes[1] if nodes[1].type() == "paintlayer" else nodes[1].childNodes()[0]
            facts[depth]["result_space"] = [pixels_node.colorDepth(), pixels_node.colorProfile()]
    gray = new_doc(window, model="GRAYA")
    facts["GRAYA"] = {"result": command("colorize_layer"), "layers": len(gray.rootNode().childNodes()),
                      "space": [gray.colorModel(), gray.colorDepth()],
                      "shown_at_once": shown_at_once(gray, gray.rootNode().childNodes()[-1])}
    undo(gray)
    facts["GRAYA"]["after_one_undo"] = [gray.colorModel(), [n.name() for n in gray.rootNode().childNodes()]]
    undo(gray)
    facts["GRAYA"]["after_two_undos"] = [gray.colorModel(), [n.name() for n in gray.rootNode().childNodes()]]
    cmyk = Krita.instance().createDocument(SIZE, SIZE, "cmyk", "CMYKA", "U8", "", 72.0)
    window.addView(cmyk)
    _events()
    facts["CMYKA"] = {"result": command("colorize_layer"), "layers": len(cmyk.rootNode().childNodes())}
    return facts


def scenario_cancel(window: Any) -> Facts:
    doc, source, before = start(window)
    from chromaseg.plugins.krita.shared import shared_controller

    controller = shared_controller()
    Krita.instance().action("chromaseg_harmonize_layer").trigger()
    started = controller.last.state.value
    Krita.instance().action("chromaseg_cancel").trigger()
    end = time.monotonic() + 120
    while controller.runner.busy and time.monotonic() < end:
        _events(0.02)
    return {"started": started, "state": controller.last.state.value, "message": controller.last.message,
            "layers": [n.name() for n in doc.rootNode().childNodes()], "source_unchanged": digest(source) == before}


def label_facts(label: Any) -> Facts:
    """The size of the pixmap a QLabel shows and how many of its pixels are not gray."""
    image = label.pixmap().toImage().convertToFormat(QImage.Format_ARGB32)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    return {"size": [image.width(), image.height()], "colored": colorfulness(bytes(bits))}


def scenario_preview(window: Any) -> Facts:
    """The docker's Preview button: a small colorized copy in the docker, nothing added to the document; its toggle
    shows the layer as it is; Apply writes the full-resolution layer."""
    from chromaseg.plugins.krita.shared import shared_controller

    doc, source, before = start(window)
    docker = docker_widget()
    facts: Facts = {"before_preview": {"area_hidden": docker.preview_area.isHidden(),
                                       "apply_enabled": docker.apply_button.isEnabled(),
                                       "height": docker.scroll.widget().sizeHint().height()}}
    stored = docker.preview_size.value()
    docker.preview_size.setValue(128)  # the 256 px layer at half its size
    facts["preview"] = until_over(docker.buttons["preview"].click)
    shown = shared_controller().preview
    facts["size"] = None if shown is None else [shown.width, shown.height]
    facts["after"] = label_facts(docker.preview_label)
    facts["layers_after_preview"] = [n.name() for n in doc.rootNode().childNodes()]
    facts["source_unchanged"] = digest(source) == before
    facts["shown"] = {"area_hidden": docker.preview_area.isHidden(), "apply_enabled": docker.apply_button.isEnabled(),
                      "height": docker.scroll.widget().sizeHint().height()}
    docker.before_after.click()
    _events()
    facts["before"] = {"checked": docker.before_after.isChecked(), **label_facts(docker.preview_label)}
    docker.before_after.click()
    _events()
    facts["after_again"] = {"checked": docker.before_after.isChecked(), **label_facts(docker.preview_label)}
    facts["apply"] = until_over(docker.apply_button.click)
    nodes = doc.rootNode().childNodes()
    facts["layers_after_apply"] = [n.name() for n in nodes]
    if len(nodes) > 1:
        b = nodes[1].bounds()
        facts["applied_bounds"] = [b.x(), b.y(), b.width(), b.height()]
    facts["source_unchanged_after_apply"] = digest(source) == before
    docker.preview_size.setValue(stored)
    return facts


def scenario_autostart(window: Any) -> Facts:
    """No daemon at the endpoint: the plugin starts one with the installer's serve command, without blocking. Then
    that daemon is killed (SIGKILL, as a crash would) and the next command starts another one and succeeds."""
    import signal

    from chromaseg.plugins.krita.shared import shared_controller

    doc = new_doc(window)
    select(doc, 64, 48, 128, 112)
    facts: Facts = {"status_before": shared_controller().daemon_status(), "result": command("select_object")}
    process = shared_controller().runner._process
    facts["daemon_pid"] = None if process is None else process.pid
    facts["status_after"] = shared_controller().daemon_status()
    if process is not None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        facts["status_killed"] = shared_controller().daemon_status()
        facts["after_kill"] = command("select_object")
        restarted = shared_controller().runner._process
        facts["restarted_pid"] = None if restarted is None else restarted.pid
    return facts


def _screen_grab(qwidget: Any, rect: Any) -> Any:
    """What the (virtual) screen shows in `rect`, in `qwidget`'s coordinates: popups (menus) included."""
    from PyQt5.QtGui import QGuiApplication

    top_left = qwidget.mapToGlobal(rect.topLeft())
    return QGuiApplication.primaryScreen().grabWindow(0, top_left.x(), top_left.y(), rect.width(), rect.height())


def _side_by_side(images: list[Any], gap: int = 16) -> Any:
    from PyQt5.QtGui import QPainter

    width = sum(i.width() for i in images) + gap * (len(images) - 1)
    pair = QImage(width, max(i.height() for i in images), QImage.Format_ARGB32)
    pair.fill(0xFFFFFFFF)
    painter = QPainter(pair)
    x = 0
    for image in images:
        painter.drawImage(x, 0, image)
        x += image.width() + gap
    painter.end()
    return pair


def _set_foreground(window: Any, bgr: tuple[int, int, int]) -> None:
    from krita import ManagedColor

    color = ManagedColor("RGBA", "U8", "")
    color.setComponents([bgr[0] / 255, bgr[1] / 255, bgr[2] / 255, 1.0])  # B, G, R, A
    window.activeView().setForeGroundColor(color)


# the gray photo's parts at 512 px, and the color each hint gives them (B, G, R), for the screenshots
SHOT_HINTS = (((60, 360, 16, 16), (40, 110, 230)), ((280, 430, 16, 16), (40, 110, 230)),  # orange suit
              ((212, 112, 8, 8), (150, 175, 225)), ((200, 40, 12, 8), (60, 110, 160)),  # skin, hair
              ((12, 30, 16, 16), (140, 60, 30)), ((470, 130, 12, 12), (150, 160, 170)))  # flag's blue, backdrop


Steps = Generator[float, None, Any]  # yields how long to let Krita's own event loop run, returns a result


def _until_over_steps(start: Callable[[], Any]) -> Steps:
    """until_over, as steps: the command runs while Krita's event loop has control."""
    from chromaseg.plugins.krita.shared import shared_controller

    controller = shared_controller()
    start()
    end = time.monotonic() + 300.0
    while controller.runner.busy and time.monotonic() < end:
        yield 0.05
    return {"state": controller.last.state.value, "message": controller.last.message}


def _command_steps(key: str) -> Steps:
    return (yield from _until_over_steps(Krita.instance().action(f"chromaseg_{key}").trigger))


def _activate_steps(doc: Any, node: Any) -> Steps:
    end = time.monotonic() + 10
    while doc.activeNode().name() != node.name() and time.monotonic() < end:
        doc.setActiveNode(node)
        yield 0.25
    return doc.activeNode().name()


def drive(steps: Steps) -> Any:
    """Run steps here, processing events in place (kritarunner, where the script runs outside Krita's event loop)."""
    try:
        while True:
            _events(next(steps))
    except StopIteration as over:
        return over.value


def scenario_screenshots(window: Any) -> Facts:
    """The screenshots below, driven in place. In the `krita` binary (docs/tools/krita_screenshots.py) the steps are
    driven from Krita's event loop instead: its Layers docker and selection outline only follow the document when
    the script hands control back to that loop, which processing events inside a slot does not do."""
    return drive(screenshot_steps(window))


def screenshot_steps(window: Any) -> Steps:
    """docs/images/krita-*.png: the full window with its menus, toolbox, Layers and Chromaseg dockers after Preview and
    Apply, the Chromaseg menu open, the docker alone and mid-job, the preview's before/after, the Layers docker after
    a click selected an object and Auto-Segment found its segments, and a before/after of the image. (The selection's
    marching ants did not show in a canvas grab after Select Object in Krita 5.1.5 under Xvfb, so there is no
    picture of them.)"""
    from PyQt5.QtCore import Qt
    from PyQt5.QtGui import QCursor

    from chromaseg.plugins.krita.extension import DOCKER_ID, MENU_NAME
    from chromaseg.plugins.krita.shared import shared_controller

    shots = os.environ["CHROMASEG_KRITA_SHOTS"]

    def save(image: Any, name: str) -> None:
        image.save(os.path.join(shots, name))

    size = 512
    qwindow = window.qwindow()
    qwindow.resize(1600, 1000)
    qwindow.show()
    qwindow.menuBar().setVisible(True)  # never hidden (kritarunner's bar is bare: no Krita menus there)
    docks = {d.objectName(): d for d in Krita.instance().dockers()}
    for name, dock in docks.items():  # the toolbox, Layers and Chromaseg: a readable picture
        dock.setVisible(name in (DOCKER_ID, "KisLayerBox", "ToolBox"))
    docker, layers = docks[DOCKER_ID], docks["KisLayerBox"]
    yield 0.5
    qwindow.resizeDocks([layers], [470], Qt.Horizontal)
    qwindow.resizeDocks([layers, docker], [300, 1000], Qt.Vertical)
    doc = new_doc(window, size=size)
    source = doc.rootNode().childNodes()[0]
    yield 1.0
    before = doc.projection(0, 0, size, size)
    controller = shared_controller()
    facts: Facts = {"menu_bar": [a.text() for a in qwindow.menuBar().actions()],
                    "docks": [n for n, d in docks.items() if d.isVisible()]}
    # the Chromaseg menu, open under its title in the menu bar, as the screen shows it (a popup is its own window)
    bar = qwindow.menuBar()
    entry = next((a for a in bar.actions() if a.menu() is not None and a.menu().objectName() == MENU_NAME), None)
    if entry is not None:
        menu = entry.menu()
        menu.popup(bar.mapToGlobal(bar.actionGeometry(entry).bottomLeft()))
        yield 1.0
        shown, corner = menu.geometry(), qwindow.mapToGlobal(QRect(0, 0, 1, 1).topLeft())
        save(_screen_grab(qwindow, QRect(0, 0, min(qwindow.width(), shown.right() - corner.x() + 40),
                                         shown.bottom() - corner.y() + 24)), "krita-menu.png")
        facts["menu"] = [a.text() for a in menu.actions()]
        menu.hide()
        yield 0.5
    # hints: Add Color Hint Layer, then Add Hint at Selection with the foreground color over small boxes
    facts["hint_layer"] = yield from _command_steps("hint_layer")
    facts["hints"] = []
    for box, bgr in SHOT_HINTS:
        _set_foreground(window, bgr)
        select(doc, *box)
        facts["hints"].append((yield from _command_steps("hint_at_selection"))["message"])
    doc.setSelection(None)
    facts["list_hints"] = (yield from _command_steps("list_hints"))["message"]
    yield from _activate_steps(doc, source)
    # Preview, its Before toggle, then Apply (the docker grabbed mid-job)
    facts["preview"] = yield from _until_over_steps(docker.buttons["preview"].click)
    yield 0.5
    after_side = docker.preview_area.grab().toImage()
    docker.before_after.click()
    yield 0.5
    before_side = docker.preview_area.grab().toImage()  # the toggle pressed: the layer as it is
    save(_side_by_side([before_side, after_side]), "krita-preview-before-after.png")
    docker.before_after.click()
    yield 0.5
    docker.apply_button.click()
    yield 0.3
    docker.scroll.widget().grab().save(os.path.join(shots, "krita-docker-running.png"))  # all of it: the progress too
    facts["apply"] = yield from _until_over_steps(lambda: None)
    doc.refreshProjection()
    result = next((n for n in doc.rootNode().childNodes() if n.name().startswith("Colorized")), source)
    yield from _activate_steps(doc, result)  # as an artist would, to look at it: highlighted in the Layers docker
    QCursor.setPos(layers.mapToGlobal(layers.rect().center()))  # no brush outline on the canvas
    docker.refresh_status()
    yield 2.0
    qwindow.grab().save(os.path.join(shots, "krita-window.png"))
    docker.scroll.widget().grab().save(os.path.join(shots, "krita-docker.png"))
    hints = doc.nodeByName("Color hints")
    if hints is not None:
        hints.setVisible(False)
    doc.refreshProjection()
    yield 1.0
    save(_side_by_side([before, doc.projection(0, 0, size, size)]), "krita-before-after.png")
    facts["tree"] = tree(doc.rootNode())
    # an object by a click: the Object clicks layer, a green dot on the helmet, Select Object
    facts["clicks_layer"] = yield from _command_steps("clicks_layer")
    clicks = doc.nodeByName("Object clicks")
    doc.setSelection(None)
    dot(clicks, 392, 428, GREEN, size=10)
    facts["select_object"] = yield from _command_steps("select_object")
    selected = doc.selection()
    facts["selected"] = None if selected is None else [selected.x(), selected.y(), selected.width(), selected.height()]
    # Auto-Segment: the Layers docker with the named segments
    doc.setSelection(None)
    yield from _activate_steps(doc, source)
    docker.show_more.setChecked(True)
    docker.max_segments.setValue(8)  # a short list for the picture
    facts["auto_segment"] = yield from _command_steps("auto_segment")
    group = next((n for n in doc.rootNode().childNodes() if n.type() == "grouplayer"), None)
    facts["segments"] = [] if group is None else [n.name() for n in group.childNodes()]
    qwindow.resizeDocks([layers, docker], [470, 400], Qt.Vertical)
    if group is not None and group.childNodes():
        group.setCollapsed(False)
        yield from _activate_steps(doc, group.childNodes()[0])
        facts["select_segment"] = yield from _command_steps("select_segment")
    yield 2.0
    layers.grab().save(os.path.join(shots, "krita-segments.png"))
    return facts


SCENARIOS: dict[str, Callable[[Any], Facts]] = {
    "plugin": scenario_plugin,
    "colorize_selection": scenario_colorize_selection,
    "hints_layer_harmonize": scenario_hints_layer_harmonize,
    "select_object": scenario_select_object,
    "hint_at_selection": scenario_hint_at_selection,
    "vibrancy": scenario_vibrancy,
    "auto_segment": scenario_auto_segment,
    "depths": scenario_depths,
    "cancel": scenario_cancel,
    "preview": scenario_preview,
    "autostart": scenario_autostart,
    "screenshots": scenario_screenshots,
}


def reached(stage: str) -> None:
    """Notes a stage on disk at once (a crash loses buffered output)."""
    with open(os.environ["CHROMASEG_KRITA_PROGRESS"], "a", encoding="utf-8") as fh:
        fh.write(stage + "\n")


def run(*_args: object) -> None:
    """kritarunner's entry: load the installed plugin, open a window, run the scenarios, write the facts."""
    out: Facts = {}
    try:
        reached("script")
        sys.path.insert(0, os.environ["CHROMASEG_KRITA_PLUGIN_DIR"])
        import chromaseg_krita  # noqa: F401  (the installed entry: vendor/ on sys.path, extension and docker)

        reached("plugin")
        window = Krita.instance().openWindow()
        window.qwindow().show()
        _events(0.2)  # lets the plugin place its menu (it does so once the window is built)
        reached("window")
        names = os.environ["CHROMASEG_KRITA_SCENARIOS"]
        for name in names.split(","):
            reached(f"scenario {name}")
            try:
                out[name] = SCENARIOS[name](window)
            except Exception:
                out[name] = {"error": traceback.format_exc()}
    except Exception:
        out["error"] = traceback.format_exc()
    with open(os.environ["CHROMASEG_KRITA_RESULT"], "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
    for doc in Krita.instance().documents():
        doc.setModified(False)
    os._exit(0)  # Krita 5.1 can crash tearing down a window opened from a script: the facts are written already
