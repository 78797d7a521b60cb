"""Image files for the batch command: read what a file really holds, write results whole or not at all.

PIL identifies and validates every file but reads 16-bit color (and 16-bit gray + alpha) as 8 bits, so those files
are decoded by OpenCV; results are PNG written by OpenCV, which (unlike PIL) writes 48- and 64-bit PNGs.
"""
from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

# PIL modes that already hold gray at up to 16 bits (larger integers are clipped to 16 bits).
_GRAY16_MODES = ("I;16", "I;16B", "I;16L", "I")
_TIFF_BITS_PER_SAMPLE = 258
_UNSUPPORTED_DEPTH = "{} pixels are not supported; save the image with 8 or 16 bits per channel"
_TEMPORARY = re.compile(r"\.(.+)\.[0-9a-f]{8}\.tmp")  # write_png's temporary for the file named by group 1


class BadImage(Exception):
    """A file that cannot be colorized; its message is the one line the batch prints for it."""


def read_image(path: Path) -> np.ndarray:
    """Pixels as the file stores them: uint8 or uint16, HxW gray, HxWx3 RGB or HxWx4 RGBA.

    Raises :class:`BadImage` (with the reason in one line) for a missing, unreadable, corrupt, unsupported or
    multi-frame file, so a batch can report it and go on.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            if frames > 1:  # refused rather than silently reduced to its first frame
                raise BadImage(f"{frames} frames (animated or multi-page); only single-frame images are colorized, "
                               "so extract the frames first")
            im.load()  # decodes everything: a corrupt or truncated file fails here
            if im.mode not in _GRAY16_MODES and _bits_per_sample(im, path) > 8:
                return _read_with_opencv(path)
            return _pixels(im)
    except BadImage:
        raise
    except Exception as exc:  # image decoders report bad data with many exception types; all mean "bad file"
        raise BadImage(_reason(exc)) from None


def _bits_per_sample(im: Image.Image, path: Path) -> int:
    """The file's bits per sample, which PIL's mode does not tell for 16-bit color."""
    if im.format == "PNG":
        with open(path, "rb") as f:
            return f.read(25)[24]  # IHDR bit depth: signature (8) + chunk length and type (8) + width, height (8)
    if im.format == "TIFF":
        return int(np.max(im.tag_v2.get(_TIFF_BITS_PER_SAMPLE, 8)))
    return 8


def _read_with_opencv(path: Path) -> np.ndarray:
    """16-bit color or gray + alpha, as RGB(A) uint16 (OpenCV returns BGR order and gray + alpha as BGRA)."""
    import cv2

    pixels = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise BadImage("corrupt or unreadable image (OpenCV cannot decode it)")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise BadImage(_UNSUPPORTED_DEPTH.format(pixels.dtype))
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return pixels


def _pixels(im: Image.Image) -> np.ndarray:
    """The array of a decoded PIL image, keeping 16-bit gray and alpha (palette transparency included)."""
    if im.mode in _GRAY16_MODES:
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
    if im.mode == "F":
        raise BadImage(_UNSUPPORTED_DEPTH.format("float32"))
    if im.mode == "L":
        return np.asarray(im)
    has_alpha = "A" in im.getbands() or "transparency" in im.info
    return np.asarray(im.convert("RGBA" if has_alpha else "RGB"))


def _reason(exc: Exception) -> str:
    """One line for a file PIL could not read."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not an image"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image, or a format that cannot be read"
    return f"corrupt or unreadable image ({exc or type(exc).__name__})"


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Write RGB or RGBA pixels (uint8 or uint16) as a PNG of the same depth.

    The PNG goes to a temporary file in the same folder, is flushed to disk, then renamed over ``path``: a failure or
    a crash leaves the previous file (or nothing), never a half-written image.
    """
    import cv2

    order = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(pixels, order))
    if not ok:
        raise OSError(f"PNG encoding failed for {pixels.dtype} pixels of shape {pixels.shape}")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")  # matches _TEMPORARY
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666: the umask decides, as for open()
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_temporaries(folder: Path, names: set[str]) -> None:
    """Remove the temporaries that :func:`write_png` left in ``folder`` for the files ``names`` when its process was
    killed before the rename. Only while nothing writes those files."""
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _TEMPORARY.fullmatch(entry.name)
            if match and match[1] in names:
                Path(entry.path).unlink(missing_ok=True)


def ensure_writable_folder(folder: Path) -> None:
    """Create ``folder`` if missing and create (then remove) a file in it, so that an unwritable output folder is
    found before the batch's work rather than after it. Raises OSError."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".chromaseg-write-check-"):
        pass
