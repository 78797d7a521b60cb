"""The op contract is the one place an op's params, ranges, defaults and frames are written: walk it and check that
the daemon's validation and dispatch, the client, the plugins' settings and the GIMP procedures all follow it (the
Krita docker's widgets: tests/plugins/krita/test_krita_docker.py)."""
from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any, Iterator

import pytest
from bridge_helpers import Daemon

from chromaseg.bridge import contract, protocol
from chromaseg.bridge.daemon import handlers, server, validation
from chromaseg.bridge.client import Client, Frame, RequestFailed
from chromaseg.bridge.contract import (OPS, ColorizeParams, ColorizerInfo, FrameName, HarmonizeParams, NoParams,
                                       Param, SegmentParams, param_specs)
from chromaseg.bridge.protocol import Descriptor, ErrorCode, ProtocolError, Request
from chromaseg.plugins.common.pixels import MAX_LABELS
from chromaseg.plugins.common.settings import OPTIONS, Settings
from chromaseg.plugins.gimp import procedures  # noqa: F401  (registers the procedures)
from chromaseg.plugins.gimp.registry import PROCEDURES


def numeric() -> Iterator[tuple[str, str, Param]]:
    """(op, name, param) for every ranged param of the contract."""
    for op in OPS.values():
        for name, spec in op.specs.items():
            if spec.lo is not None:
                yield op.name, name, spec


def outside(spec: Param) -> list[Any]:
    """The values just outside the range, of the param's own type."""
    if float in spec.kind:
        return [math.nextafter(spec.lo, -math.inf), math.nextafter(spec.hi, math.inf)]
    return [spec.lo - 1, spec.hi + 1]


def frames_for(op: str) -> tuple[Descriptor, ...]:
    """The frames a request of `op` must carry (a 4x4 layer)."""
    rules = OPS[op].frames or {}
    return tuple(Descriptor(name.value, rule.dtypes[0], (4, 4, rule.channels[-1]) if rule.channels[-1] else (4, 4))
                 for name, rule in rules.items() if rule.required)


def validate(op: str, params: dict[str, Any]) -> dict[str, Any]:
    return validation.validate(Request(op, "x", params, frames_for(op)))


def test_the_registry_is_the_protocols_and_every_op_is_answered_or_run_exactly_once() -> None:
    assert protocol.OPS is OPS
    jobs = {name for name, op in OPS.items() if op.job}
    assert set(handlers.HANDLERS) == jobs and set(server._ANSWERS) == set(OPS) - jobs
    assert all(set(op.frames or ()) <= set(FrameName) for op in OPS.values())


@pytest.mark.parametrize("op", sorted(OPS))
def test_the_daemon_fills_in_the_contracts_defaults(op: str) -> None:
    if op == "cancel":
        assert validate(op, {"target": "a"}) == {"target": "a"}
        return
    assert validate(op, {}) == {name: spec.default for name, spec in OPS[op].specs.items()}


@pytest.mark.parametrize("op, name, spec", list(numeric()), ids=lambda v: v if isinstance(v, str) else "")
def test_the_daemon_and_the_typed_request_take_the_range_and_refuse_just_outside(op: str, name: str,
                                                                                spec: Param) -> None:
    request = OPS[op].params
    for value in (spec.lo, spec.hi):
        assert validate(op, {name: value})[name] == value
        assert request(**{name: value}).to_params() == {name: value}
    for value in outside(spec):
        with pytest.raises(ProtocolError) as refused:
            validate(op, {name: value})
        assert refused.value.code is ErrorCode.BAD_PARAMS and name in refused.value.message
        with pytest.raises(ValueError, match=name):
            request(**{name: value})


def test_vibrancy_is_a_share_higher_is_bolder_and_its_default_is_the_models() -> None:
    spec = param_specs(ColorizeParams)["vibrancy"]
    assert (spec.lo, spec.hi, spec.step, spec.default) == (0.0, 1.0, 0.05, None)
    assert "higher: bolder colors" in spec.label.lower() and "higher: bolder colors" in spec.help.lower()
    assert validate("colorize", {})["vibrancy"] is None  # left to the model: core picks its own


def test_segments_prompts_frame_takes_what_colorizes_hints_frame_takes() -> None:
    segment, colorize = OPS["segment"].frames, OPS["colorize"].frames
    assert segment[FrameName.PROMPTS] == colorize[FrameName.HINTS] and not segment[FrameName.PROMPTS].required
    assert str(FrameName.PROMPTS) == "prompts"
    for dtype in contract.IMAGE_DTYPES:  # any layer dtype, RGBA of the layer's size
        frames = (Descriptor("layer", "u8", (4, 4, 3)), Descriptor("prompts", dtype, (4, 4, 4)))
        assert validation.validate(Request("segment", "x", {}, frames))["points"] is None
        assert validation.priority("segment", {}, frames) == validation.INTERACTIVE  # a click is interactive
    frames = (Descriptor("layer", "u8", (4, 4, 3)), Descriptor("prompts", "u8", (4, 4, 4)))
    assert validation.validate(Request("segment", "x", {"points": [[1, 1]], "labels": [0]}, frames))  # +clicks


def test_colorizes_preview_is_a_long_side_in_steps_of_32_and_off_by_default() -> None:
    spec = param_specs(ColorizeParams)["preview"]
    assert (spec.kind, spec.lo, spec.hi, spec.step, spec.default) == ((int,), 32, 1024, 32, None)
    assert spec.label == "Preview size (px)" and "long side" in spec.help
    assert ColorizeParams(preview=64).to_params() == {"preview": 64}


def test_the_settings_options_are_the_contracts_and_settings_refuse_what_the_daemon_refuses() -> None:
    for op, name, spec in numeric():
        if name not in OPTIONS:
            continue
        own = OPTIONS[name]
        assert (own.lo, own.step, own.default, own.label, own.help) == (spec.lo, spec.step, spec.default, spec.label,
                                                                         spec.help)
        # auto-segment's masks come from the label map's low byte: the plugin asks for fewer at most
        assert own.hi == (min(spec.hi, MAX_LABELS) if name == "max_segments" else spec.hi)
        assert getattr(Settings(), name) == spec.default
        for value in (own.lo, own.hi):
            assert getattr(Settings(**{name: value}), name) == value
        for value in outside(own):
            with pytest.raises(ValueError, match=name):
                Settings(**{name: value})
    for name in ("harmonize", "segment_pass", "confine_hints"):
        assert OPTIONS[name] is param_specs(ColorizeParams)[name]
        assert getattr(Settings(), name) == OPTIONS[name].default


def test_the_gimp_procedures_widgets_are_the_contracts() -> None:
    op_params = {name for op in OPS.values() for name in op.specs}
    shown = {}
    for procedure in PROCEDURES.values():
        for p in procedure.params:
            if p.name in op_params:
                shown[p.name] = p
    assert set(shown) == op_params & set(OPTIONS)
    for name, p in shown.items():
        spec = OPTIONS[name]
        if spec.kind == (str,):  # a name typed in GIMP's fixed dialog: empty for the default, words to help
            assert p.description.startswith(spec.label) and p.default == "" and spec.default is None, name
            continue
        assert (p.description, p.default) == (spec.label, spec.start), name
        if spec.lo is not None:
            assert (p.lo, p.hi, p.step) == (spec.lo, spec.hi, spec.step), name
    toggle = next(p for p in PROCEDURES["python-fu-chromaseg-colorize-layer"].params if p.name == "model_vibrancy")
    assert toggle.default is True  # the model's own vibrancy unless the artist turns it off


def test_the_client_sends_a_typed_request_as_its_wire_params_and_refuses_another_ops() -> None:
    client = Client("tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match="SegmentParams"):
        client.submit("segment", ColorizeParams(vibrancy=0.5))
    with pytest.raises(TypeError):
        client.submit("ping", HarmonizeParams())
    assert NoParams().to_params() == {} and SegmentParams(max_segments=8).to_params() == {"max_segments": 8}


def test_the_daemon_reports_its_colorizers_own_defaults_refuses_the_old_vibrancy_range_and_takes_typed_requests(
        daemon: Daemon, tiny_colorizer_checkpoint: Path) -> None:
    from chromaseg.core.colorize import Colorizer, get_model

    net = get_model(tiny_colorizer_checkpoint)
    with daemon.client() as c:
        info = c.info()
        assert info["ops"] == list(OPS)
        assert ColorizerInfo.from_info(info) == ColorizerInfo(Colorizer.of(net).vibrancy, Colorizer.of(net).resolution,
                                                              str(tiny_colorizer_checkpoint))
        layer = Frame(bytes(4 * 4 * 4), "u8", (4, 4, 4))
        with pytest.raises(RequestFailed) as refused:
            c.request("colorize", {"vibrancy": 2.0}, {"layer": layer})
        assert refused.value.code == "bad_params" and "vibrancy" in str(refused.value)
        labels = Frame(bytes([1] * 8 + [2] * 8), "u8", (4, 4))
        typed = c.request("harmonize", HarmonizeParams(min_pixels=1), {"layer": layer, "segments": labels})
        assert typed.result["changed_pixels"] == 0 and bytes(typed.frames["layer"].data) == bytes(layer.data)
    assert ColorizerInfo.from_info({"colorizer": None}) is None
    assert ColorizerInfo.from_info({"colorizer": {"vibrancy": 7, "resolution": 384, "path": "x"}}) is None


def test_the_contract_imports_the_standard_library_only() -> None:
    tree = ast.parse(Path(contract.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "math", "dataclasses", "enum", "typing"}
