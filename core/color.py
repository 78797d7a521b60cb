"""sRGB <-> CIE L*a*b* (D65), in NumPy and in torch.

The colorizer works in Lab: the gray input *is* L, the network predicts a*, b*, and the result keeps the input's L
exactly. Both back ends share the constants below; the NumPy path is chunked over a thread pool (NumPy releases the
GIL in ufuncs) so a 4096x4096 layer converts in well under a second with bounded temporaries, and the torch path runs
on whatever device the tensor lives on (training on a GPU, autograd intact).

Inputs are sRGB as uint8, uint16 or float in [0, 1], shape (..., 3). Lab is float32: L in [0, 100], a*, b* roughly
in [-128, 127]. Out-of-gamut Lab is clipped in linear RGB before the transfer curve is applied.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import numpy as np

from chromaseg.core.parallel import for_each_chunk

# IEC 61966-2-1 sRGB primaries with the D65 white. The white point is the matrix's row sums, so that sRGB white maps
# to exactly L = 100, a* = b* = 0.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)
D65_WHITE = _RGB_TO_XYZ.sum(axis=1)  # (0.95047, 1.0, 1.08883)

# RGB (linear) -> XYZ normalized by the white, and back.
_RGB_TO_XYZN = _RGB_TO_XYZ / D65_WHITE[:, None]
_XYZN_TO_RGB = np.linalg.inv(_RGB_TO_XYZN)

# CIE 1976 f(t) and its inverse: cube root above (6/29)^3, a line below.
_EPS_F = 6.0 / 29.0
_EPS_T = _EPS_F**3
_SLOPE = 1.0 / (3.0 * _EPS_F**2)
_OFFSET = 4.0 / 29.0

# f(X/Xn), f(Y/Yn), f(Z/Zn) -> (L + 16, a*, b*), and back.
_F_TO_LAB = np.array([[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]], dtype=np.float64)
_LAB_TO_F = np.linalg.inv(_F_TO_LAB)

# float32 copies laid out for row-vector products (pixels as rows).
_RGB_TO_XYZN_T32 = _RGB_TO_XYZN.T.astype(np.float32)
_XYZN_TO_RGB_T32 = _XYZN_TO_RGB.T.astype(np.float32)
_LAB_TO_F_T32 = _LAB_TO_F.T.astype(np.float32)

# Pixels per chunk of the threaded NumPy path: each chunk's temporaries (~200 KB each) stay in the core's L2 cache,
# which measured 3x faster than 256K-pixel chunks on 4096x4096 (bench/bench_color.py).
_CHUNK = 1 << 14


def _srgb_decode_np(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded float -> linear light."""
    lin = np.power((c + np.float32(0.055)) * np.float32(1 / 1.055), np.float32(2.4), dtype=np.float32)
    np.copyto(lin, c * np.float32(1 / 12.92), where=c <= np.float32(0.04045))
    return lin


@lru_cache(maxsize=None)
def _decode_lut(dtype_name: str) -> np.ndarray:
    """Linear-light value of every code of an integer dtype (256 or 65536 entries)."""
    top = np.iinfo(np.dtype(dtype_name)).max
    codes = np.arange(top + 1, dtype=np.float64) / top
    lin = np.where(codes <= 0.04045, codes / 12.92, ((codes + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


def _check_rgb_dtype(dtype: np.dtype) -> None:
    if dtype not in (np.uint8, np.uint16) and dtype.kind != "f":
        raise TypeError(f"sRGB input must be uint8, uint16 or float in [0, 1]; got {dtype}")


def _check_last_axis(shape: tuple[int, ...], what: str) -> None:
    if len(shape) == 0 or shape[-1] != 3:
        raise ValueError(f"{what} must have shape (..., 3); got {tuple(shape)}")


def _linear_to_xyzn(lin: np.ndarray) -> np.ndarray:
    """Linear RGB -> XYZ / white, written as G plus chroma offsets so that neutral colors (R = G = B) give
    X/Xn = Y/Yn = Z/Zn bit for bit, hence a* = b* = 0 exactly (a plain matrix product leaves ~1e-5 of float noise,
    which scatters grays over four of the 400 color classes)."""
    g = lin[:, 1:2].copy()
    lin = lin - g
    t = lin @ _RGB_TO_XYZN_T32
    t += g
    return t


def _rgb_chunk_to_lab(rgb: np.ndarray, out: np.ndarray) -> None:
    if rgb.dtype in (np.uint8, np.uint16):
        lin = _decode_lut(rgb.dtype.name)[rgb]
    else:
        lin = _srgb_decode_np(rgb.astype(np.float32, copy=False))
    t = _linear_to_xyzn(lin)
    f = np.cbrt(t)
    dark = t <= np.float32(_EPS_T)  # rare in photos: patch those few values instead of computing the line everywhere
    f[dark] = t[dark] * np.float32(_SLOPE) + np.float32(_OFFSET)
    _f_to_lab(f[:, 0], f[:, 1], f[:, 2], out)


def _f_to_lab(fx: Any, fy: Any, fz: Any, out: Any) -> None:
    """L = 116 fy - 16, a* = 500 (fx - fy), b* = 200 (fy - fz): differences first, so equal f give exact zeros
    (a fused multiply-add inside a matrix product would leave a rounding residue)."""
    out[..., 0] = 116.0 * fy - 16.0
    out[..., 1] = 500.0 * (fx - fy)
    out[..., 2] = 200.0 * (fy - fz)


def _lab_chunk_to_rgb(lab: np.ndarray, out: np.ndarray) -> None:
    f = lab.astype(np.float32, copy=False) @ _LAB_TO_F_T32
    f += np.float32(16.0 / 116.0)
    t = f * f
    t *= f
    low = f <= np.float32(_EPS_F)
    t[low] = (f[low] - np.float32(_OFFSET)) * np.float32(1 / _SLOPE)
    lin = np.matmul(t, _XYZN_TO_RGB_T32, out=t)
    np.clip(lin, 0.0, 1.0, out=lin)
    np.power(lin, np.float32(1 / 2.4), out=out)
    out *= np.float32(1.055)
    out -= np.float32(0.055)
    low = lin <= np.float32(0.0031308)
    out[low] = lin[low] * np.float32(12.92)


def _map_chunks(fn: Callable[[np.ndarray, np.ndarray], None], flat: np.ndarray) -> np.ndarray:
    """Apply ``fn(in_chunk, out_chunk)`` over (N, 3) rows in parallel chunks; returns the float32 (N, 3) result."""
    out = np.empty(flat.shape, dtype=np.float32)
    for_each_chunk(lambda s: fn(flat[s], out[s]), flat.shape[0], _CHUNK)
    return out


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def srgb_to_lab(rgb: Any) -> Any:
    """sRGB (uint8, uint16 or float in [0, 1], shape (..., 3)) -> float32 Lab of the same shape.

    Accepts a NumPy array or a torch tensor and returns the same kind.
    """
    if _is_torch(rgb):
        return _torch_srgb_to_lab(rgb)
    rgb = np.asarray(rgb)
    _check_rgb_dtype(rgb.dtype)
    _check_last_axis(rgb.shape, "sRGB input")
    flat = np.ascontiguousarray(rgb).reshape(-1, 3)
    return _map_chunks(_rgb_chunk_to_lab, flat).reshape(rgb.shape)


def lab_to_srgb(lab: Any) -> Any:
    """Lab (float, shape (..., 3)) -> float32 sRGB in [0, 1]; out-of-gamut colors are clipped in linear RGB.

    Accepts a NumPy array or a torch tensor and returns the same kind.
    """
    if _is_torch(lab):
        return _torch_lab_to_srgb(lab)
    lab = np.asarray(lab)
    if lab.dtype.kind != "f":
        raise TypeError(f"Lab input must be a float array; got {lab.dtype}")
    _check_last_axis(lab.shape, "Lab input")
    flat = np.ascontiguousarray(lab).reshape(-1, 3)
    return _map_chunks(_lab_chunk_to_rgb, flat).reshape(lab.shape)


def to_unit_float(image: Any) -> np.ndarray:
    """uint8 / uint16 / float image -> float32 in [0, 1] (floats are passed through as float32)."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) * np.float32(1 / 255)
    if image.dtype == np.uint16:
        return image.astype(np.float32) * np.float32(1 / 65535)
    if image.dtype.kind == "f":
        return image.astype(np.float32, copy=False)
    raise TypeError(f"images must be uint8, uint16 or float in [0, 1]; got {image.dtype}")


def from_unit_float(image: np.ndarray, dtype: Any) -> np.ndarray:
    """float image in [0, 1] -> ``dtype`` (uint8 and uint16 are rounded to the nearest code, floats clipped)."""
    dtype = np.dtype(dtype)
    clipped = np.clip(image, 0.0, 1.0)
    if dtype in (np.uint8, np.uint16):
        top = np.float32(np.iinfo(dtype).max)
        return np.rint(clipped * top).astype(dtype)
    if dtype.kind == "f":
        return clipped.astype(dtype, copy=False)
    raise TypeError(f"images must be uint8, uint16 or float; got {dtype}")


# --- torch ------------------------------------------------------------------------------------------------------


def _torch_consts(like: Any) -> tuple[Any, Any, Any]:
    """(RGB -> XYZ/white, f -> Lab inverse, XYZ/white -> RGB) as float32 tensors on ``like``'s device."""
    import torch

    kw = {"dtype": torch.float32, "device": like.device}
    return (
        torch.tensor(_RGB_TO_XYZN.T, **kw),
        torch.tensor(_LAB_TO_F.T, **kw),
        torch.tensor(_XYZN_TO_RGB.T, **kw),
    )


def _torch_srgb_to_lab(rgb: Any) -> Any:
    import torch

    _check_last_axis(tuple(rgb.shape), "sRGB input")
    if rgb.dtype == torch.uint8:
        c = rgb.to(torch.float32) / 255.0
    elif rgb.dtype == torch.uint16:
        c = rgb.to(torch.float32) / 65535.0
    elif rgb.dtype.is_floating_point:
        c = rgb.to(torch.float32)
    else:
        raise TypeError(f"sRGB input must be uint8, uint16 or float in [0, 1]; got {rgb.dtype}")
    to_xyzn = _torch_consts(rgb)[0]
    lin = torch.where(c <= 0.04045, c / 12.92, ((c.clamp_min(0.0) + 0.055) / 1.055) ** 2.4)
    g = lin[..., 1:2]
    t = (lin - g) @ to_xyzn + g  # neutral colors give a* = b* = 0 exactly, as in the NumPy path
    # Cube root of the clamped value keeps the unused branch finite, so gradients stay finite too.
    f = torch.where(t <= _EPS_T, t * _SLOPE + _OFFSET, t.clamp_min(_EPS_T) ** (1.0 / 3.0))
    fx, fy, fz = f.unbind(-1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-1)


def _torch_lab_to_srgb(lab: Any) -> Any:
    import torch

    _check_last_axis(tuple(lab.shape), "Lab input")
    if not lab.dtype.is_floating_point:
        raise TypeError(f"Lab input must be a float tensor; got {lab.dtype}")
    lab_to_f, xyzn_to_rgb = _torch_consts(lab)[1:]
    shift = torch.tensor([16.0, 0.0, 0.0], dtype=torch.float32, device=lab.device)
    f = (lab.to(torch.float32) + shift) @ lab_to_f
    t = torch.where(f <= _EPS_F, (f - _OFFSET) / _SLOPE, f**3)
    lin = (t @ xyzn_to_rgb).clamp(0.0, 1.0)
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp_min(0.0031308) ** (1.0 / 2.4) - 0.055)
