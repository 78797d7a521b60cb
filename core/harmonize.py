"""SAM object-selective harmonization (CCC Algorithm 1), vectorized.

A per-pixel classifier may give one object two colors (a shirt half blue, half green). Algorithm 1 pulls every pixel of
a segment whose a* (or b*) strays more than delta from the segment's mode back to that mode, so each object reads as
one color while its in-range variation (shading, texture) survives.

Choices of ours (shared/docs/method.md): modes are histogram modes on bins of ``bin_width`` computed from the input
prediction, so the result does not depend on processing order; where segments overlap, each pixel follows the
smallest qualifying segment that contains it ("larger first, smaller wins"); pixels in ``protect`` (the artist's hints)
are left as they are but still vote for their segment's mode.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, Union

import numpy as np

from chromaseg.core.color import from_unit_float, lab_to_srgb, srgb_to_lab
from chromaseg.core.hints import hint_mask
from chromaseg.core.parallel import for_each_chunk
from chromaseg.core.selection import feather_weights, protect_mask

Segments = Union[np.ndarray, Sequence[np.ndarray]]

# Histogram range for a*, b*: wide enough for every sRGB color (|a*|, |b*| < 128).
AB_RANGE = (-128.0, 128.0)

# Label maps with labels up to this are histogrammed directly; sparser ones are renumbered first.
_MAX_DENSE_LABEL = 1 << 16

# Entries of a dense rows x bins histogram that are always fine; beyond this and the pixel count, modes come from
# sorted keys instead, so memory follows the pixels, not the number of segments.
_DENSE_HIST = 1 << 22

# Rows per band of harmonize_layer's Lab passes: the unit of its progress reports (and so of cancellation).
BAND_ROWS = 64

# Pixels per chunk of the threaded passes (bench/bench_harmonize.py measured 2^17 best on 4096x4096).
_CHUNK = 1 << 17


def _quantize(channel: np.ndarray, bin_width: float, nbins: int) -> np.ndarray:
    """Histogram bin (int64, ready for bincount) of each a* or b* value."""
    q = channel * np.float32(1.0 / bin_width)
    q += np.float32(0.5 - AB_RANGE[0] / bin_width)  # + 0.5 then truncation = rounding, as q >= 0 after the clip
    np.clip(q, 0, nbins - 1, out=q)
    return q.astype(np.int64)


def _compact_labels(labels: np.ndarray) -> np.ndarray:
    """Label map with labels < 0 as -1; sparse label values (e.g. ids in the millions) renumbered 0..n-1 so the
    per-label histograms stay small."""
    if labels.dtype.kind not in "iu":
        raise TypeError(f"a segment label map must be integer; got {labels.dtype}")
    if labels.size == 0:
        return labels.astype(np.int32)
    low, high = int(labels.min()), int(labels.max())
    if high < _MAX_DENSE_LABEL and low >= -1:
        return labels.astype(np.int32, copy=False)  # int32 also keeps label + 1 from wrapping in small dtypes
    values, inverse = np.unique(np.maximum(labels, -1), return_inverse=True)
    compact = inverse.reshape(labels.shape).astype(np.int32)
    return compact - 1 if values[0] == -1 else compact


def _row_modes(keys: np.ndarray, rows: int, nbins: int) -> np.ndarray:
    """Most frequent bin of each row (the lowest on ties, as argmax), from keys = row * nbins + bin."""
    if rows * nbins <= max(keys.size, _DENSE_HIST):
        return np.bincount(keys, minlength=rows * nbins).reshape(rows, nbins).argmax(axis=1)
    uniq, counts = np.unique(keys, return_counts=True)
    row, bins = np.divmod(uniq, nbins)
    order = np.lexsort((-bins, counts, row))  # within a row: rising count, then falling bin; the last is the mode
    row, bins = row[order], bins[order]
    last = np.append(row[1:] != row[:-1], True)
    modes = np.zeros(rows, np.int64)
    modes[row[last]] = bins[last]
    return modes


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _owners_and_modes_from_masks(masks: Sequence[np.ndarray], qa: np.ndarray, qb: np.ndarray, min_pixels: int,
                                 nbins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Owner rows (0 = none) and per-row mode bins for possibly overlapping boolean masks: a loop over segments,
    each on its bounding box, never over pixels."""
    shape = qa.shape
    entries = []
    for m in masks:
        m = np.asarray(m)
        if m.shape != shape:
            raise ValueError(f"every segment mask must be {shape}; got {m.shape}")
        if m.dtype != bool:
            raise TypeError(f"segment masks must be boolean; got {m.dtype}")
        area = int(np.count_nonzero(m))
        if area > min_pixels:
            entries.append((area, m))
    entries.sort(key=lambda e: -e[0])  # larger first, so smaller segments overwrite them in the owner map
    owners = np.zeros(shape, dtype=np.int64)
    modes_a = np.zeros(len(entries) + 1, dtype=np.int64)
    modes_b = np.zeros(len(entries) + 1, dtype=np.int64)
    for row, (_, m) in enumerate(entries, start=1):
        box = _bbox(m)
        crop = m[box]
        owners[box][crop] = row
        modes_a[row] = np.bincount(qa[box][crop], minlength=nbins).argmax()
        modes_b[row] = np.bincount(qb[box][crop], minlength=nbins).argmax()
    return owners.ravel(), modes_a, modes_b


def harmonize(ab: np.ndarray, segments: Segments, delta_a: float = 8, delta_b: float = 8, min_pixels: int = 500,
              protect: np.ndarray | None = None, bin_width: float = 1.0) -> np.ndarray:
    """Algorithm 1 on an HxWx2 a*b* map; returns a new float32 map.

    ``segments``: an HxW integer label map (label < 0 = no segment) or a list of HxW boolean masks (may overlap).
    Segments of at most ``min_pixels`` pixels are skipped (the paper's Psi). ``protect``: HxW bool, pixels kept as is.
    """
    ab = np.asarray(ab)
    if ab.ndim != 3 or ab.shape[2] != 2 or ab.dtype.kind != "f":
        raise ValueError(f"ab must be a float HxWx2 array; got {ab.dtype} {ab.shape}")
    if bin_width <= 0:
        raise ValueError(f"bin_width must be positive; got {bin_width}")
    shape = ab.shape[:2]
    n = shape[0] * shape[1]
    if protect is not None:
        protect = np.asarray(protect)
        if protect.shape != shape or protect.dtype != bool:
            raise ValueError(f"protect must be a boolean {shape} mask; got {protect.dtype} {protect.shape}")
        protect = protect.ravel()
    nbins = int(np.ceil((AB_RANGE[1] - AB_RANGE[0]) / bin_width)) + 1
    flat_ab = ab.reshape(n, 2)
    by_label_map = isinstance(segments, np.ndarray) and segments.ndim == 2

    # Row index of each pixel in the per-segment tables: 0 = no segment. A label map gives it directly (label + 1);
    # masks, which may overlap, need an owner map (the smallest qualifying mask containing the pixel).
    if by_label_map:
        if segments.shape != shape:
            raise ValueError(f"the segment label map must be {shape}; got {segments.shape}")
        flat_labels = _compact_labels(segments).ravel()
        rows = max(int(flat_labels.max()), -1) + 2 if n else 1

        def row_index(s: slice) -> np.ndarray:
            return np.maximum(flat_labels[s] + 1, 0)
    else:
        owners = None  # filled in after pass 1, which it needs

        def row_index(s: slice) -> np.ndarray:
            return owners[s]

    # Pass 1: histogram keys of a* and b* (row * nbins + bin for a label map, the bare bin for masks).
    keys_a = np.empty(n, dtype=np.int64)
    keys_b = np.empty(n, dtype=np.int64)

    def pass1(s: slice) -> None:
        qa = _quantize(flat_ab[s, 0], bin_width, nbins)
        qb = _quantize(flat_ab[s, 1], bin_width, nbins)
        if by_label_map:
            row_key = row_index(s) * nbins
            qa += row_key
            qb += row_key
        keys_a[s] = qa
        keys_b[s] = qb

    for_each_chunk(pass1, n, _CHUNK)
    if by_label_map:
        modes_a = _row_modes(keys_a, rows, nbins)
        modes_b = _row_modes(keys_b, rows, nbins)
        qualifies = np.bincount(keys_a // nbins, minlength=rows) > min_pixels
    else:
        owners, modes_a, modes_b = _owners_and_modes_from_masks(
            list(segments), keys_a.reshape(shape), keys_b.reshape(shape), min_pixels, nbins)
        qualifies = np.ones(modes_a.size, dtype=bool)
    qualifies[0] = False

    # Rows without a qualifying segment get NaN as their mode: |x - NaN| > delta is False, so they keep their value.
    targets = []
    for modes in (modes_a, modes_b):
        values = (AB_RANGE[0] + modes * bin_width).astype(np.float32)
        values[~qualifies] = np.nan
        targets.append(values)
    deltas = (np.float32(delta_a), np.float32(delta_b))
    out = np.empty((n, 2), dtype=np.float32)

    # Pass 2: pull every stray pixel of a qualifying, unprotected segment back to the segment's mode.
    def pass2(s: slice) -> None:
        row = row_index(s)
        if protect is not None:
            row = np.where(protect[s], 0, row)
        for c in (0, 1):
            target = targets[c][row]
            value = flat_ab[s, c]
            stray = np.abs(value - target) > deltas[c]
            out[s, c] = np.where(stray, target, value)

    for_each_chunk(pass2, n, _CHUNK)
    return out.reshape(ab.shape)


def harmonize_layer(layer: np.ndarray, segments: Segments, delta_a: float = 8, delta_b: float = 8,
                    min_pixels: int = 500, protect: Any = None, selection: Any = None, hints: Any = None,
                    progress: Callable[[str, int, int], None] | None = None) -> tuple[np.ndarray, int]:
    """Algorithm 1 on an sRGB layer (HxWx3 or HxWx4; uint8, uint16 or float32): Lab in bands, :func:`harmonize` on
    a*, b*, then only the pixels whose a*, b* moved go back to sRGB with their own L (the rest stay bit-exact, alpha
    kept). ``protect``: HxW mask of pixels left alone; ``hints``: the artist's RGBA hint layer, whose painted pixels
    are left alone too; ``selection``: HxW uint8 weight the change is blended by.
    Returns the new layer and how many pixels changed; ``progress(stage, done, total)`` is called per band."""
    report = progress or (lambda stage, done, total: None)
    h, w = layer.shape[:2]
    bands = range(0, h, BAND_ROWS)
    total = 2 * len(bands) + 1
    lab = np.empty((h, w, 3), np.float32)
    for i, y in enumerate(bands):
        report("harmonize", i, total)
        lab[y : y + BAND_ROWS] = srgb_to_lab(layer[y : y + BAND_ROWS, :, :3])
    report("harmonize", len(bands), total)
    keep = protect_mask(protect, (h, w)) if protect is not None else None
    if hints is not None:
        painted = protect_mask(hint_mask(hints), (h, w))
        keep = painted if keep is None else keep | painted
    ab = harmonize(lab[..., 1:], segments, delta_a, delta_b, min_pixels, keep)
    sel = None if selection is None else np.asarray(selection)
    if sel is not None and sel.shape != (h, w):
        raise ValueError(f"selection must have shape {(h, w)}; got {sel.shape}")
    out = layer.copy()  # pixels whose a*, b* did not change stay bit-exact (no round trip through Lab)
    changed = 0
    for i, y in enumerate(bands, start=len(bands) + 1):
        report("harmonize", i, total)
        band = slice(y, y + BAND_ROWS)
        old_ab, new_ab = lab[band, :, 1:], ab[band]
        if sel is not None:  # per band: no full-size weight plane
            new_ab = old_ab + feather_weights(sel[band], sel[band].shape, 0)[..., None] * (new_ab - old_ab)
        moved = np.any(new_ab != old_ab, axis=-1)
        if moved.any():
            target = np.concatenate([lab[band, :, :1][moved], new_ab[moved]], axis=-1)
            out[band][moved, :3] = from_unit_float(lab_to_srgb(target), layer.dtype)
            changed += int(moved.sum())
    report("harmonize", total, total)
    return out, changed
