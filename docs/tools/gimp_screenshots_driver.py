"""Runs inside real GIMP 3 (its GUI, through `gimp-3.0 --batch-interpreter=python-fu-eval -b`) for
docs/tools/gimp_screenshots.sh: takes the screenshots and runs the Chromaseg procedures through the PDB, as the
artist would from the menu.

No fixed screen positions: windows are found by name with xdotool, the Filters > Colors > Chromaseg submenu is
opened with the keyboard (Alt+R, End, Right, Right), dialogs are confirmed with Return, and each capture is one
window (ImageMagick's `import`) or the screen trimmed to what GIMP drew.

    driver.main(WORK)    GIMP was started on WORK/photo.png; writes before, menu, dialog, preview and after .png
                         there, then `done` (and `error.txt` when something failed)
"""
from __future__ import annotations

import subprocess
import sys
import time
import traceback
from pathlib import Path

if __name__ != "__main__":  # inside GIMP (the confirm helper below runs without it)
    from gi.repository import Gimp

SETTLE = 3.0  # seconds for GIMP to redraw after a change (a slow, shared machine)


def xdotool(*args: str) -> str:
    return subprocess.run(["xdotool", *args], capture_output=True, text=True).stdout.strip()


def window(name: str, timeout: float = 60.0) -> str:
    """The id of the visible window whose name matches `name` (a regular expression)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = xdotool("search", "--onlyvisible", "--name", name).split()
        if found:
            return found[-1]
        time.sleep(0.5)
    shown = [xdotool("getwindowname", wid) for wid in xdotool("search", "--onlyvisible", "--name", "").split()]
    raise RuntimeError(f"no window named {name!r} after {timeout} s; visible: {shown}")


def keys(wid: str, *names: str) -> None:
    xdotool("windowfocus", "--sync", wid)
    for name in names:
        xdotool("key", "--clearmodifiers", name)
        time.sleep(0.6)


def capture_window(wid: str, out: Path) -> None:
    subprocess.run(["import", "-window", wid, str(out)], check=True)


def capture_screen(out: Path) -> None:
    """The whole screen, cut to what is drawn on it (the rest of Xvfb's screen is black: -br)."""
    subprocess.run(["import", "-window", "root", "-trim", "+repage", str(out)], check=True)


def pdb_run(name: str, run_mode: Gimp.RunMode, image: Gimp.Image, layer: Gimp.Layer) -> None:
    proc = Gimp.get_pdb().lookup_procedure(name)
    config = proc.create_config()
    config.set_property("run-mode", run_mode)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    result = proc.run(config)
    status = result.index(0)
    if status != Gimp.PDBStatusType.SUCCESS:
        raise RuntimeError(f"{name}: {status} {result.index(1) if result.length() > 1 else ''}")


def confirm_dialog_later(title: str, capture: Path | None) -> subprocess.Popen:
    """In the background (the PDB call that opens the dialog waits for it): wait for the dialog, capture it, press
    Return (its OK)."""
    here = Path(__file__).resolve()
    return subprocess.Popen(["python3", str(here), "confirm", title, str(capture or "")])


def confirm(title: str, capture: str) -> None:
    wid = window(f"^{title}")
    time.sleep(SETTLE)
    if capture:
        capture_window(wid, Path(capture))
    keys(wid, "Return")


def main(work: str) -> None:
    w = Path(work)
    try:
        run(w)
    except Exception:
        (w / "error.txt").write_text(traceback.format_exc())
    finally:
        (w / "done").write_text("")


def run(w: Path) -> None:
    main_window = window(r"\[photo\]")  # GIMP opened photo.png from its command line; the title names it
    image = Gimp.get_images()[0]
    layer = image.get_layers()[0]
    xdotool("windowmove", "--sync", main_window, "0", "0")
    xdotool("windowsize", "--sync", main_window, *w.joinpath("window-size").read_text().split())
    xdotool("mousemove", "2000", "2000")  # the pointer off the window: no hover, no brush outline
    time.sleep(2 * SETTLE)
    capture_window(main_window, w / "before.png")

    # Filters > Colors > Chromaseg with the keyboard: Alt+R opens Filters (its mnemonic), End picks its last entry
    # (Colors, where plug-ins add theirs), Right opens that, Right again opens Chromaseg (its only entry) with its
    # first procedure highlighted.
    keys(main_window, "alt+r", "End", "Right", "Right")
    time.sleep(SETTLE)
    capture_screen(w / "menu.png")
    keys(main_window, "Escape", "Escape", "Escape", "Escape")
    time.sleep(SETTLE)

    # Preview colorization... as from the menu with its last values (the defaults): a new image, shown in a window.
    pdb_run("python-fu-chromaseg-preview", Gimp.RunMode.WITH_LAST_VALS, image, layer)
    time.sleep(2 * SETTLE)
    capture_window(window(r"\[Untitled\]|Before|After"), w / "preview.png")
    keys(main_window, "ctrl+w")  # Close View: the preview image is clean, closing it asks nothing
    Gimp.displays_flush()
    time.sleep(SETTLE)

    # Colorize layer... with its dialog, confirmed with Return.
    helper = confirm_dialog_later("Colorize layer", w / "dialog.png")
    pdb_run("python-fu-chromaseg-colorize-layer", Gimp.RunMode.INTERACTIVE, image, layer)
    helper.wait(timeout=60)
    image.clean_all()
    Gimp.displays_flush()
    time.sleep(2 * SETTLE)
    capture_window(main_window, w / "after.png")


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "confirm":
    confirm(sys.argv[2], sys.argv[3])
