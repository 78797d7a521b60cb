"""The chromaseg wire protocol: one JSON header frame followed by raw pixel frames (see docs/protocol.md).

Shared by the daemon and by the client that runs inside editors, so it uses only the standard library. Everything a
peer declares (header size, frame count, dtypes, shapes, byte counts) is checked here against `Limits` before anyone
allocates memory for it.
"""
from __future__ import annotations

import json
import math
import re
import reprlib
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

from chromaseg.bridge.contract import OPS

# Bumped on any incompatible change of the header, the ops or their replies. Peers with another version get
# `unsupported_version` instead of a guess.
PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

# Wire dtype -> (struct-style item size, NumPy dtype string). Little-endian on the wire, always.
DTYPES: dict[str, tuple[int, str]] = {
    "u8": (1, "|u1"),
    "u16": (2, "<u2"),
    "i32": (4, "<i4"),
    "f32": (4, "<f4"),
}

REPLY_KINDS: tuple[str, ...] = ("progress", "result", "error")

_REQUEST_KEYS = frozenset({"v", "op", "id", "params", "frames"})
_REPLY_KEYS = frozenset({"v", "op", "id", "kind", "progress", "result", "error", "frames"})
_DESCRIPTOR_KEYS = frozenset({"name", "dtype", "shape"})
_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
_MAX_RANK = 4

# Client values quoted in error messages: bounded in depth and length, so a hostile value cannot make the message
# (or the repr that builds it) large or deep.
_PREVIEW = reprlib.Repr()
_PREVIEW.maxlevel = 3
_PREVIEW.maxstring = _PREVIEW.maxlong = _PREVIEW.maxother = 40


class ErrorCode(str, Enum):
    """Stable error codes: clients branch on these strings, so they never change meaning."""

    BAD_MESSAGE = "bad_message"  # not a chromaseg message at all (no header, not UTF-8, not JSON)
    BAD_HEADER = "bad_header"  # JSON, but a field has the wrong type or value
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_OP = "unknown_op"
    UNKNOWN_FIELD = "unknown_field"
    BAD_PARAMS = "bad_params"
    BAD_DTYPE = "bad_dtype"
    BAD_SHAPE = "bad_shape"
    FRAME_MISMATCH = "frame_mismatch"  # frames missing, extra, or of the wrong byte length
    BAD_FRAME = "bad_frame"  # a frame's content is unusable (non-finite floats, too many segments)
    TOO_LARGE = "too_large"
    TOO_MANY_FRAMES = "too_many_frames"
    QUEUE_FULL = "queue_full"
    DUPLICATE_ID = "duplicate_id"
    CANCELLED = "cancelled"
    UNAVAILABLE = "unavailable"  # the op exists but this daemon cannot run it (model not installed)
    SHUTTING_DOWN = "shutting_down"
    INTERNAL = "internal"


class ProtocolError(ValueError):
    """A message that breaks the protocol; `code` is what goes on the wire."""

    def __init__(self, code: ErrorCode, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class Limits:
    """Resource limits of a daemon; the defaults are safe for one workstation."""

    max_pixels: int = 100_000_000  # per frame (height x width)
    max_frames: int = 8
    max_message_bytes: int = 1_288_490_189  # ~1.2 GiB, all frames of one message together
    max_header_bytes: int = 65_536
    max_queue: int = 4  # jobs queued or running per client

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Budget:
    """Memory the daemon holds for its clients, all of them together: per-client limits alone let many clients (or a
    few that never read) grow it without bound. Defaults sized for a 24 GB workstation that also runs the editor.
    Only the daemon uses it (the client learns `Limits`, not this)."""

    max_held_bytes: int = 4 << 30  # requests queued or running + replies waiting for their client, all clients
    max_unread_bytes: int = 1 << 30  # per client: replies it has not taken; past this, further replies are dropped

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Frame:
    """A raw buffer with its wire dtype and shape (row-major, little-endian).

    `data` is any C-contiguous bytes-like object (bytes, bytearray, memoryview, a NumPy array...); replies hold
    memoryviews into the received message, so no copy is made on either side.
    """

    data: Any
    dtype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; use one of {', '.join(DTYPES)}")
        view = memoryview(self.data)
        if not view.c_contiguous:
            raise ValueError("frame data must be C-contiguous (use numpy.ascontiguousarray)")
        if view.nbytes != self.nbytes:
            raise ValueError(
                f"frame data has {view.nbytes} bytes but dtype {self.dtype} and shape {list(self.shape)} "
                f"need {self.nbytes}"
            )

    @property
    def nbytes(self) -> int:
        return DTYPES[self.dtype][0] * math.prod(self.shape)

    @classmethod
    def from_array(cls, array: Any) -> "Frame":
        """Wrap a NumPy-like array (anything with `.dtype.str` and `.shape`) without copying it."""
        wire = {numpy_str: name for name, (_, numpy_str) in DTYPES.items()}.get(array.dtype.str)
        if wire is None:
            raise ValueError(f"dtype {array.dtype} has no wire form; use uint8, uint16, int32 or float32")
        return cls(array, wire, tuple(array.shape))

    def descriptor(self, name: str) -> dict[str, Any]:
        return {"name": name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Descriptor:
    """What a header says about one following frame."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return DTYPES[self.dtype][0] * math.prod(self.shape)


@dataclass(frozen=True)
class Request:
    """A validated request header (its frames travel separately)."""

    op: str
    id: str
    params: dict[str, Any] = field(default_factory=dict)
    frames: tuple[Descriptor, ...] = ()


@dataclass(frozen=True)
class ReplyHeader:
    """A validated reply header."""

    kind: str
    id: str | None
    op: str | None
    body: dict[str, Any]  # the progress, result or error object
    frames: tuple[Descriptor, ...] = ()


def preview(value: Any) -> str:
    """A short repr of a value a peer sent, for error messages."""
    return _PREVIEW.repr(value)


# --- encoding -------------------------------------------------------------------------------------------------------


def _dumps(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode_request(op: str, request_id: str, params: Mapping[str, Any], frames: Mapping[str, Frame]) -> bytes:
    """The header frame of a request; the frames follow in the mapping's order."""
    header = {
        "v": PROTOCOL_VERSION,
        "op": op,
        "id": request_id,
        "params": dict(params),
        "frames": [f.descriptor(name) for name, f in frames.items()],
    }
    return _dumps(header)


def encode_reply(
    kind: str,
    request_id: str | None,
    op: str | None,
    body: Mapping[str, Any],
    frames: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """The header frame of a reply: `body` goes under the key named by `kind` (progress, result or error)."""
    header: dict[str, Any] = {"v": PROTOCOL_VERSION, "id": request_id, "op": op, "kind": kind, kind: dict(body)}
    if frames:
        header["frames"] = list(frames)
    return _dumps(header)


def encode_error(code: ErrorCode, message: str, request_id: str | None, op: str | None) -> bytes:
    return encode_reply("error", request_id, op, {"code": code.value, "message": message})


# --- decoding and validation ----------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _load_object(raw: bytes | memoryview, limits: Limits) -> dict[str, Any]:
    if len(raw) > limits.max_header_bytes:
        raise ProtocolError(
            ErrorCode.TOO_LARGE, f"header has {len(raw)} bytes; the limit is {limits.max_header_bytes}"
        )
    try:
        text = bytes(raw).decode("utf-8")
        obj = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"header is not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"header must be a JSON object, got {type(obj).__name__}")
    return obj


def _peek_id(obj: Mapping[str, Any]) -> str | None:
    rid = obj.get("id")
    return rid if isinstance(rid, str) and _ID_RE.match(rid) else None


def _check_version(obj: Mapping[str, Any], rid: str | None) -> None:
    v = obj.get("v")
    if type(v) is not int:
        raise ProtocolError(ErrorCode.BAD_HEADER, "header field 'v' (protocol version) must be an integer", rid)
    if v not in SUPPORTED_VERSIONS:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version {preview(v)} is not supported; this side speaks {list(SUPPORTED_VERSIONS)}: "
            "update the chromaseg plugin and daemon to the same release",
            rid,
        )


def _check_keys(obj: Mapping[str, Any], allowed: frozenset[str], what: str, rid: str | None) -> None:
    unknown = sorted(k for k in obj if k not in allowed)
    if unknown:
        raise ProtocolError(
            ErrorCode.UNKNOWN_FIELD, f"unknown field(s) {preview(unknown)} in {what}; allowed: {sorted(allowed)}", rid
        )


def parse_descriptors(raw: Any, limits: Limits, rid: str | None = None) -> tuple[Descriptor, ...]:
    """Validate frame descriptors against `limits`: count, names, dtypes, shapes, pixels and bytes."""
    if not isinstance(raw, list):
        raise ProtocolError(ErrorCode.BAD_HEADER, "'frames' must be a list of descriptors", rid)
    if len(raw) > limits.max_frames:
        raise ProtocolError(
            ErrorCode.TOO_MANY_FRAMES, f"{len(raw)} frames declared; the limit is {limits.max_frames}", rid
        )
    out: list[Descriptor] = []
    total = 0
    for i, d in enumerate(raw):
        if not isinstance(d, dict):
            raise ProtocolError(ErrorCode.BAD_HEADER, f"frame descriptor {i} must be an object", rid)
        _check_keys(d, _DESCRIPTOR_KEYS, f"frame descriptor {i}", rid)
        name, dtype, shape = d.get("name"), d.get("dtype"), d.get("shape")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ProtocolError(
                ErrorCode.BAD_HEADER, f"frame {i}: 'name' must match [a-z][a-z0-9_]{{0,31}}, got {preview(name)}", rid
            )
        if any(o.name == name for o in out):
            raise ProtocolError(ErrorCode.BAD_HEADER, f"frame name {name!r} appears twice", rid)
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise ProtocolError(
                ErrorCode.BAD_DTYPE, f"frame {name!r}: dtype {preview(dtype)} is not one of {list(DTYPES)}", rid
            )
        if (
            not isinstance(shape, list)
            or not 1 <= len(shape) <= _MAX_RANK
            or any(type(s) is not int or s < 1 for s in shape)
        ):
            raise ProtocolError(
                ErrorCode.BAD_SHAPE,
                f"frame {name!r}: shape must be a list of 1 to {_MAX_RANK} positive integers, got {preview(shape)}",
                rid,
            )
        pixels = shape[0] * shape[1] if len(shape) >= 2 else shape[0]
        if pixels > limits.max_pixels:
            raise ProtocolError(
                ErrorCode.TOO_LARGE, f"frame {name!r} has {pixels} pixels; the limit is {limits.max_pixels}", rid
            )
        desc = Descriptor(name, dtype, tuple(shape))
        total += desc.nbytes
        if total > limits.max_message_bytes:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"frames declare {total} bytes or more; the limit is {limits.max_message_bytes}",
                rid,
            )
        out.append(desc)
    return tuple(out)


def parse_request(raw: bytes | memoryview, limits: Limits) -> Request:
    """Decode and validate a request header; raises ProtocolError with the code to answer."""
    obj = _load_object(raw, limits)
    rid = _peek_id(obj)
    _check_version(obj, rid)
    _check_keys(obj, _REQUEST_KEYS, "request header", rid)
    if rid is None:
        raise ProtocolError(ErrorCode.BAD_HEADER, "'id' must be a string of 1-64 characters [A-Za-z0-9._:-]")
    op = obj.get("op")
    if not isinstance(op, str):
        raise ProtocolError(ErrorCode.BAD_HEADER, "'op' must be a string", rid)
    if op not in OPS:
        raise ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown op {preview(op)}; this daemon knows {list(OPS)}", rid)
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise ProtocolError(ErrorCode.BAD_HEADER, "'params' must be an object", rid)
    frames = parse_descriptors(obj.get("frames", []), limits, rid)
    return Request(op=op, id=rid, params=params, frames=frames)


def parse_reply(raw: bytes | memoryview, limits: Limits) -> ReplyHeader:
    """Decode and validate a reply header (the client's side of `parse_request`)."""
    obj = _load_object(raw, limits)
    rid = obj.get("id")
    _check_version(obj, rid if isinstance(rid, str) else None)
    _check_keys(obj, _REPLY_KEYS, "reply header", None)
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in REPLY_KINDS:
        raise ProtocolError(
            ErrorCode.BAD_HEADER, f"reply 'kind' must be one of {list(REPLY_KINDS)}, got {preview(kind)}"
        )
    body = obj.get(kind)
    if not isinstance(body, dict):
        raise ProtocolError(ErrorCode.BAD_HEADER, f"reply field {kind!r} must be an object")
    if kind == "error" and not (isinstance(body.get("code"), str) and isinstance(body.get("message"), str)):
        raise ProtocolError(ErrorCode.BAD_HEADER, "error replies need string 'code' and 'message'")
    if rid is not None and not isinstance(rid, str):
        raise ProtocolError(ErrorCode.BAD_HEADER, "reply 'id' must be a string or null")
    op = obj.get("op")
    frames = parse_descriptors(obj.get("frames", []), limits)
    return ReplyHeader(kind=kind, id=rid, op=op if isinstance(op, str) else None, body=body, frames=frames)


def check_frame_sizes(descriptors: Sequence[Descriptor], sizes: Iterable[int], rid: str | None = None) -> None:
    """The frames that arrived must match the descriptors one to one, byte for byte."""
    sizes = list(sizes)
    if len(sizes) != len(descriptors):
        raise ProtocolError(
            ErrorCode.FRAME_MISMATCH,
            f"header declares {len(descriptors)} frame(s) but the message carries {len(sizes)}",
            rid,
        )
    for d, n in zip(descriptors, sizes):
        if n != d.nbytes:
            raise ProtocolError(
                ErrorCode.FRAME_MISMATCH,
                f"frame {d.name!r} ({d.dtype} {list(d.shape)}) must have {d.nbytes} bytes, got {n}",
                rid,
            )
