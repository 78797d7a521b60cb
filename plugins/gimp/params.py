"""gimpfu's PF_* parameter declarations: the `params` list of `register()` parsed into typed specs.

A declaration is the classic gimpfu tuple `(PF_TYPE, name, description, default[, extra])`; `extra` is
`(min, max, step)` for sliders and spinners and the list of labels for PF_OPTION. Both backends read the same specs:
the GIMP 3 backend turns them into typed ImageProcedure arguments, the in-memory one checks values against them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

PF_IMAGE = "image"
PF_DRAWABLE = "drawable"
PF_INT = "int"
PF_FLOAT = "float"
PF_STRING = "string"
PF_TOGGLE = "toggle"
PF_BOOL = PF_TOGGLE
PF_SLIDER = "slider"
PF_SPINNER = "spinner"
PF_OPTION = "option"

_IMPLICIT = (PF_IMAGE, PF_DRAWABLE)  # GIMP 3's ImageProcedure passes these itself
_RANGED = (PF_SLIDER, PF_SPINNER)


@dataclass(frozen=True)
class Param:
    """One declared parameter. `lo`/`hi`/`step` for ranged numbers, `options` (labels) for PF_OPTION."""

    kind: str
    name: str
    description: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    options: tuple[str, ...] = ()

    @property
    def is_integer(self) -> bool:
        """Sliders and spinners are integers when all of their bounds and default are."""
        if self.kind == PF_INT:
            return True
        return self.kind in _RANGED and all(isinstance(v, int) for v in (self.lo, self.hi, self.step, self.default))

    def check(self, value: Any) -> Any:
        """The value coerced to the parameter's type; ValueError (naming the parameter) when it does not fit."""
        try:
            return self._coerce(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameter {self.name!r}: {exc}") from None

    def _coerce(self, value: Any) -> Any:
        if self.kind == PF_TOGGLE:
            if not isinstance(value, (bool, int)):
                raise TypeError(f"expected a boolean, got {value!r}")
            return bool(value)
        if self.kind == PF_STRING:
            if not isinstance(value, str):
                raise TypeError(f"expected a string, got {value!r}")
            return value
        if self.kind == PF_OPTION:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(self.options):
                raise ValueError(f"expected an option index 0..{len(self.options) - 1}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        number = int(value) if self.is_integer else float(value)
        if self.is_integer and number != value:
            raise ValueError(f"expected an integer, got {value!r}")
        if (self.lo is not None and number < self.lo) or (self.hi is not None and number > self.hi):
            raise ValueError(f"{value!r} is outside [{self.lo}, {self.hi}]")
        return number


def parse_params(declared: Sequence[tuple]) -> tuple[Param, ...]:
    """The explicit parameters of a gimpfu `params` list (PF_IMAGE / PF_DRAWABLE must come first, in that order)."""
    kinds = [d[0] for d in declared]
    implicit = [k for k in kinds if k in _IMPLICIT]
    if kinds[: len(implicit)] != list(_IMPLICIT) or len(implicit) != 2:
        raise ValueError("an image procedure declares PF_IMAGE then PF_DRAWABLE as its first two parameters")
    return tuple(_parse_one(d) for d in declared[2:])


def _parse_one(decl: tuple) -> Param:
    if len(decl) not in (4, 5):
        raise ValueError(f"a parameter is (PF_TYPE, name, description, default[, extra]), got {decl!r}")
    kind, name, description, default = decl[:4]
    extra = decl[4] if len(decl) == 5 else None
    if kind in _RANGED:
        if extra is None or len(extra) != 3:
            raise ValueError(f"{name}: a slider or spinner needs extra=(min, max, step)")
        param = Param(kind, name, description, default, extra[0], extra[1], extra[2])
    elif kind == PF_OPTION:
        if not extra:
            raise ValueError(f"{name}: PF_OPTION needs extra=[label, ...]")
        param = Param(kind, name, description, default, options=tuple(extra))
    elif kind in (PF_INT, PF_FLOAT, PF_STRING, PF_TOGGLE):
        param = Param(kind, name, description, default)
    else:
        raise ValueError(f"{name}: unsupported parameter type {kind!r}")
    param.check(default)
    return param
