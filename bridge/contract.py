"""The op contract: each op's parameters (type, inclusive range, default, UI step, label, help), its frames and how
it runs, written once.

The daemon's validation and dispatch, the client, the plugins' settings and both editors' widgets read it, so adding
a parameter means the contract, one handler and one core function. Standard library only: it travels into the
editors with the client. A default of None means "none" (no prompt, no smallest area) or, for vibrancy and
resolution, the loaded model's own, which `info` reports (`ColorizerInfo`), or, for colorize's `colorizer`, the
shipped model.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, Callable, Mapping

_SPEC = "chromaseg.param"  # the dataclass field metadata key that holds a field's `Param`
MAX_PROMPT_POINTS = 256
MAX_LISTED_HINTS = 256  # the hints op lists at most this many dabs (the largest), and says how many it left out
IMAGE_DTYPES = ("u8", "u16", "f32")


# --- parameters -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter: its JSON types, default, inclusive range (numbers) or checker (lists, strings), the step a
    widget moves by, and the words an editor shows. A required one has no default (absent or null is refused)."""

    kind: tuple[type, ...]
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    label: str = ""
    help: str = ""
    check: Callable[[Any], bool] | None = None
    hint: str = ""  # what an accepted value looks like, when the type alone does not say
    required: bool = False

    def accepts(self, value: Any) -> bool:
        """Type first (type(), not isinstance(): JSON true is not the integer 1 here), then the range or checker.
        Never raises and never does arithmetic on the value, whatever a peer sent (a 400-digit int, any depth)."""
        if type(value) not in self.kind:
            return False
        if type(value) in (int, float) and not (_is_number(value) and self._in_range(value)):
            return False
        return self.check is None or self.check(value)

    def checked(self, name: str, value: Any) -> Any:
        """`value`, or ValueError naming the param `name` when it is not accepted: for values built in a program."""
        if not self.accepts(value):
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return value

    def describe(self) -> str:
        """What an accepted value is, for error messages: "integer in [1, 1024]"."""
        want = self.hint or " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in self.kind)
        if self.lo is not None:
            want += f" in [{self.lo:g}, {self.hi:g}]"
        return want

    @property
    def start(self) -> Any:
        """The value a widget starts at: the default, or the middle of the range when the default is the model's own
        (None), which only the daemon knows."""
        if self.default is None and self.lo is not None and self.hi is not None:
            return (self.lo + self.hi) / 2
        return self.default

    def _in_range(self, value: Any) -> bool:
        """Python compares int and float exactly, so this cannot overflow."""
        return (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)


_TYPE_NAMES = {int: "integer", float: "number", str: "string", bool: "bool", list: "list"}
_NUMBER = (int, float)


def _is_number(v: Any) -> bool:
    """A finite JSON number, not a bool. Integers are never converted to float: a 400-digit one would overflow."""
    return type(v) is int or (type(v) is float and math.isfinite(v))


def param(kind: type | tuple[type, ...], default: Any = None, lo: float | None = None, hi: float | None = None,
          **words: Any) -> Any:
    """A request field described by a `Param`. The field itself defaults to None, "not chosen": the wire leaves it
    out and the daemon fills in `Param.default`."""
    spec = Param(kind if isinstance(kind, tuple) else (kind,), default, lo, hi, **words)
    return field(default=None, metadata={_SPEC: spec})


def param_specs(request: type) -> dict[str, Param]:
    """The `Param` of each field of a request class, in declaration order."""
    return {f.name: f.metadata[_SPEC] for f in fields(request)}


class OpParams:
    """Base of the request dataclasses: one field per param, None = left to the default. Building one checks every
    chosen value against its `Param` (ValueError naming the field), so what a client sends is already valid."""

    def __post_init__(self) -> None:
        for name, spec in param_specs(type(self)).items():
            value = getattr(self, name)
            if value is not None:
                spec.checked(name, value)
            elif spec.required:
                raise ValueError(f"{name} is required: {spec.describe()}")

    def to_params(self) -> dict[str, Any]:
        """The wire's `params` object: the chosen values only."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def _points(v: list) -> bool:
    return len(v) <= MAX_PROMPT_POINTS and all(
        type(p) is list and len(p) == 2 and all(_is_number(c) for c in p) for p in v
    )


def _box(v: list) -> bool:
    return len(v) == 4 and all(_is_number(c) for c in v)


def _labels(v: list) -> bool:
    return len(v) <= MAX_PROMPT_POINTS and all(type(c) is int and c in (0, 1) for c in v)


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
MAX_NAME_LENGTH = 64


def _model_name(v: str) -> bool:
    """A registry name as `info` lists them: 1..64 of letters, digits, '-', '_' and '.' (never a path)."""
    return 0 < len(v) <= MAX_NAME_LENGTH and all(c in _NAME_CHARS for c in v)


@dataclass(frozen=True)
class NoParams(OpParams):
    """ping, info and echo take no params."""


@dataclass(frozen=True)
class CancelParams(OpParams):
    target: str | None = param(str, check=lambda v: 0 < len(v) <= 64, hint="a request id", required=True)


@dataclass(frozen=True)
class SegmentParams(OpParams):
    """A prompt (points, box, a `selection` frame or clicks painted on a `prompts` frame) asks for one object's mask;
    no prompt, for automatic segments."""

    points: list | None = param(list, check=_points, hint=f"[[x, y], ...] (at most {MAX_PROMPT_POINTS})")
    labels: list | None = param(list, check=_labels, hint="[1 or 0 per point]")
    box: list | None = param(list, check=_box, hint="[x0, y0, x1, y1]")
    max_segments: int | None = param(int, 32, 1, 1024, step=1, label="Most segments",
                                     help="How many objects Auto-Segment looks for.")
    min_area: int | None = param(int, None, 0, 1 << 40, label="Smallest segment (px)",
                                 help="Segments with fewer pixels are dropped (none are when not set).")


@dataclass(frozen=True)
class ColorizeParams(OpParams):
    vibrancy: float | None = param(
        _NUMBER, None, 0.0, 1.0, step=0.05, label="Vibrancy (higher: bolder colors)",
        help="Higher: bolder colors. The share of the color-class rebalancing the colorizer keeps when it decodes "
             "(0: none, the photos' own color statistics; 1: all, its output as trained); the model's own when not "
             "set.")
    resolution: int | None = param(int, None, 16, 4096, step=16, label="Model resolution (px)",
                                   help="Long side the network sees; the model's own when not set.")
    feather: float | None = param(_NUMBER, 4.0, 0.0, 4096.0, step=0.5, label="Feather (px)",
                                  help="Width of the soft inner edge where the result blends into the layer.")
    harmonize: bool | None = param(bool, False, label="Harmonize colors per segment",
                                   help="Run CCC Algorithm 1 over the segments after colorizing.")
    segment_pass: bool | None = param(bool, False, label="Refine each segment (segment pass)",
                                      help="Predict each large segment again on its own crop, at a higher "
                                           "effective resolution, and take it where it agrees with the whole "
                                           "picture's colors. Off by default: it only helps layers well above the "
                                           "model's resolution, and it costs a prediction per segment.")
    confine_hints: bool | None = param(bool, False, label="Confine each hint to its segment",
                                       help="A hint colors only the segment it was painted on; the rest of the "
                                            "picture keeps its automatic colors. Off by default: a hint's color "
                                            "also informs similar regions (10 hints on 100 validation photos: "
                                            "29.00 dB, confined 28.37).")
    colorizer: str | None = param(
        str, None, check=_model_name, hint=f"a colorizer name (letters, digits, '-', '_', '.'; at most "
                                          f"{MAX_NAME_LENGTH}), as `info` lists them under 'colorizers'",
        label="Colorizer",
        help="A published colorizer installed with `chromaseg weights fetch NAME` (siggraph17 takes the hints as "
             "input; DDColor is automatic, hints correct its result; neither uses vibrancy); the shipped model when "
             "not set.")
    preview: int | None = param(int, None, 32, 1024, step=32, label="Preview size (px)",
                                help="A quick look: colorize a copy of the layer scaled down so its long side is at "
                                     "most this (never enlarged); the result comes back at that size. The full "
                                     "size when not set.")


@dataclass(frozen=True)
class HarmonizeParams(OpParams):
    delta_a: float | None = param(_NUMBER, 8.0, 0.0, 256.0, step=0.5, label="a* tolerance",
                                  help="A pixel whose a* strays further from its segment's mode is pulled back to it.")
    delta_b: float | None = param(_NUMBER, 8.0, 0.0, 256.0, step=0.5, label="b* tolerance",
                                  help="A pixel whose b* strays further from its segment's mode is pulled back to it.")
    min_pixels: int | None = param(int, 500, 0, 1 << 40, step=1, label="Largest segment left alone (px)",
                                   help="Segments of at most this many pixels keep their colors.")


# --- frames ---------------------------------------------------------------------------------------------------------


class FrameName(str, Enum):
    """Names of the frames requests carry."""

    LAYER = "layer"
    SELECTION = "selection"
    HINTS = "hints"
    SEGMENTS = "segments"
    PROMPTS = "prompts"
    PROTECT = "protect"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class FrameRule:
    """A frame an op takes: allowed dtypes and channel counts (0 = a 2-D HxW plane)."""

    dtypes: tuple[str, ...]
    channels: tuple[int, ...]
    required: bool = False


_LAYER = FrameRule(IMAGE_DTYPES, (0, 3, 4), required=True)
_MASK = FrameRule(("u8",), (0,))
_HINTS = FrameRule(IMAGE_DTYPES, (4,))  # RGBA: alpha > 0 is a painted hint (or, for segment's prompts, a click)
_LABELS = FrameRule(("u8", "u16", "i32"), (0,))


# --- the op registry ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One op: its request class, its frames (None: any, as echo sends them back), and how it runs: a job is queued
    for the worker (progress replies, cancellable) and may need a model; the rest are answered at once."""

    name: str
    params: type[OpParams] = NoParams
    frames: Mapping[FrameName, FrameRule] | None = field(default_factory=dict)
    job: bool = False
    needs: str | None = None  # the model a job needs ("colorizer", "segmenter"): `unavailable` without it

    @property
    def specs(self) -> dict[str, Param]:
        return param_specs(self.params)


OPS: dict[str, Op] = {op.name: op for op in (
    Op("info"),
    Op("ping"),
    Op("echo", frames=None),
    Op("segment", SegmentParams, {FrameName.LAYER: _LAYER, FrameName.SELECTION: _MASK, FrameName.PROMPTS: _HINTS},
       job=True, needs="segmenter"),
    Op("colorize", ColorizeParams, {FrameName.LAYER: _LAYER, FrameName.SELECTION: _MASK,
                                    FrameName.HINTS: _HINTS, FrameName.SEGMENTS: _LABELS},
       job=True, needs="colorizer"),
    Op("harmonize", HarmonizeParams, {FrameName.LAYER: FrameRule(IMAGE_DTYPES, (3, 4), required=True),
                                      FrameName.SEGMENTS: _LABELS, FrameName.SELECTION: _MASK,
                                      FrameName.PROTECT: _MASK, FrameName.HINTS: _HINTS}, job=True),
    Op("hints", NoParams, {FrameName.HINTS: FrameRule(IMAGE_DTYPES, (4,), required=True)}, job=True),
    Op("cancel", CancelParams),
)}


# --- what `info` says about the models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColorizerInfo:
    """The loaded colorizer's own defaults, reported by `info` under "colorizer": what colorize's params whose
    default is None (vibrancy, resolution) become, so an editor can show them."""

    vibrancy: float
    resolution: int
    path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ColorizerInfo | None:
        """From an `info` reply; None while the daemon loads its colorizer, when it has none, or from a daemon
        that does not say."""
        raw = info.get("colorizer")
        if not isinstance(raw, dict):
            return None
        specs = param_specs(ColorizeParams)
        vibrancy, resolution, path = raw.get("vibrancy"), raw.get("resolution"), raw.get("path")
        if not (specs["vibrancy"].accepts(vibrancy) and specs["resolution"].accepts(resolution)
                and isinstance(path, str)):
            return None
        return cls(float(vibrancy), resolution, path)
