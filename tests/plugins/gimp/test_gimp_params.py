"""gimpfu parameter declarations and register(): parsed, checked, and refused when malformed."""
from __future__ import annotations

import pytest

from chromaseg.plugins.gimp.params import (
    PF_DRAWABLE,
    PF_IMAGE,
    PF_INT,
    PF_OPTION,
    PF_SLIDER,
    PF_SPINNER,
    PF_STRING,
    PF_TOGGLE,
    parse_params,
)
from chromaseg.plugins.gimp.registry import PROCEDURES, register

TARGET = [(PF_IMAGE, "image", "", None), (PF_DRAWABLE, "drawable", "", None)]


def test_parses_each_kind_with_its_extra() -> None:
    params = parse_params(TARGET + [
        (PF_SLIDER, "amount", "Amount", 0.5, (0.0, 1.0, 0.01)),
        (PF_SPINNER, "count", "Count", 3, (1, 9, 1)),
        (PF_OPTION, "how", "How", 1, ["A", "B"]),
        (PF_TOGGLE, "on", "On", True),
        (PF_STRING, "name", "Name", "x"),
        (PF_INT, "n", "N", 4),
    ])
    assert [p.name for p in params] == ["amount", "count", "how", "on", "name", "n"]
    amount, count, how, on, name, n = params
    assert (amount.lo, amount.hi, amount.is_integer) == (0.0, 1.0, False)
    assert count.is_integer and n.is_integer
    assert how.options == ("A", "B")
    assert amount.check(1) == 1.0 and count.check(9) == 9 and on.check(0) is False


@pytest.mark.parametrize("decl, value", [
    ((PF_SLIDER, "a", "", 0.5, (0.0, 1.0, 0.1)), 1.5),
    ((PF_SPINNER, "c", "", 2, (1, 9, 1)), 2.5),
    ((PF_OPTION, "o", "", 0, ["A", "B"]), 2),
    ((PF_TOGGLE, "t", "", False), "yes"),
    ((PF_STRING, "s", "", ""), 3),
])
def test_values_outside_the_declaration_are_refused_by_name(decl: tuple, value: object) -> None:
    (param,) = parse_params(TARGET + [decl])
    with pytest.raises(ValueError, match=repr(param.name)):
        param.check(value)


@pytest.mark.parametrize("declared, match", [
    ([(PF_STRING, "s", "", "")], "PF_IMAGE then PF_DRAWABLE"),
    (TARGET + [(PF_SLIDER, "a", "", 0.5)], "extra=\\(min, max, step\\)"),
    (TARGET + [(PF_OPTION, "o", "", 0)], "PF_OPTION needs"),
    (TARGET + [("color", "c", "", None)], "unsupported parameter type"),
    (TARGET + [(PF_SLIDER, "a", "", 5.0, (0.0, 1.0, 0.1))], "outside"),
])
def test_malformed_declarations_are_refused(declared: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_params(declared)


def test_register_records_a_procedure_and_fills_defaults() -> None:
    proc = register("python-fu-test-shim", "b", "h", "a", "c", "2026", "_Test", "*",
                    TARGET + [(PF_SLIDER, "amount", "Amount", 0.5, (0.0, 1.0, 0.01))], [],
                    lambda image, drawable, amount: amount, menu="<Image>/Filters/Test")
    try:
        assert PROCEDURES["python-fu-test-shim"] is proc
        assert proc.values({}) == [0.5] and proc.values({"amount": 0.25}) == [0.25]
        with pytest.raises(ValueError, match="unknown parameter"):
            proc.values({"amout": 0.25})
    finally:
        del PROCEDURES["python-fu-test-shim"]


def test_register_refuses_return_values_and_other_menus() -> None:
    with pytest.raises(ValueError, match="return values"):
        register("p", "", "", "", "", "", "", "*", TARGET, [(PF_INT, "r", "", 0)], print, menu="<Image>/X")
    with pytest.raises(ValueError, match="<Image>/"):
        register("p", "", "", "", "", "", "", "*", TARGET, [], print, menu="<Toolbox>/X")


def test_the_plugin_registers_its_procedures_under_one_submenu() -> None:
    from chromaseg.plugins.gimp import procedures

    ours = {n: p for n, p in PROCEDURES.items() if n.startswith("python-fu-chromaseg-")}
    assert set(ours) == {f"python-fu-chromaseg-{n}" for n in (
        "colorize-layer", "colorize-selection", "select-object", "auto-segment", "select-segment", "harmonize",
        "add-hint-layer", "hint-at-selection", "add-clicks-layer", "list-hints", "preview")}
    assert {p.menu for p in ours.values()} == {procedures.MENU} == {"<Image>/Filters/Colors/Chromaseg"}


def test_the_preview_takes_colorizes_options_and_a_preview_size_but_no_result_layer_mode() -> None:
    from chromaseg.plugins.gimp import procedures  # noqa: F401  (registers the procedures)

    colorize = [p.name for p in PROCEDURES["python-fu-chromaseg-colorize-layer"].params]
    params = PROCEDURES["python-fu-chromaseg-preview"].params
    assert [p.name for p in params] == [n for n in colorize if n not in ("layer_mode", "endpoint")] + [
        "preview_size", "endpoint"]
    size = params[-2]
    assert (size.kind, size.default, size.lo, size.hi, size.step) == (PF_SPINNER, 384, 32, 1024, 32)
    assert size.description == "Preview size (px)" and size.is_integer
