"""Spread what the artist's hints correct over the regions they belong to (edge-aware residual propagation).

The network sees the hints and moves its prediction toward them, but only so far: away from a hint it falls back
to its own guess, and with many hints it no longer matches them all. This step keeps the network's prediction as
the prior and adds the hints' residuals (hint ab minus predicted ab) spread along L: the residual field ``u``
minimizes

    sum over 4-neighbours (i, j) of  w_ij (u_i - u_j)^2  +  decay * sum_i u_i^2

with ``u`` fixed to the residual on hinted pixels and
``w_ij = exp(-(L_i - L_j)^2 / (2 sigma^2) - |ab_i - ab_j|^2 / (2 color_sigma^2))`` (``ab`` the prediction being
corrected), so a correction flows freely inside a region of even lightness and even predicted color, stops at edges
(of lightness, or of the objects the network told apart by color where their gray is alike) and fades far from
every hint (the screened-Poisson form of Levin et al. 2004's colorization by optimization, applied to the network's
error rather than to the colors). Without hints nothing changes.

Settings measured on the validation split (docs/model-card.md): sigma = 6 L units, color_sigma = 0.5 a*b* units
per grid step, decay = 3e-5 at a long side of 256 px, scaled with the grid so the fall-off is the same fraction of
the picture at every resolution.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl

EDGE_SIGMA = 6.0  # L units: lightness steps much larger than this stop a correction
COLOR_SIGMA = 0.5  # a*b* units: steps of the predicted color larger than this stop it too (None: lightness only)
DECAY = 3e-5  # pull of the residual back to 0, per pixel at REFERENCE_SIDE
REFERENCE_SIDE = 256


def edge_laplacian(l: np.ndarray, sigma: float = EDGE_SIGMA, color: np.ndarray | None = None,
                   color_sigma: float | None = COLOR_SIGMA) -> sp.csr_matrix:
    """(N, N) graph Laplacian of the 4-neighbour grid of ``l`` (h, w), N = h * w, with edge-stopping weights; with
    ``color`` (h, w, 2) and a ``color_sigma``, steps of that color stop a correction as well."""
    h, w = l.shape
    index = np.arange(h * w).reshape(h, w)
    features = [np.asarray(l, np.float64).reshape(h * w, 1) / sigma]
    if color is not None and color_sigma is not None:
        features.append(np.asarray(color, np.float64).reshape(h * w, -1) / color_sigma)
    flat = np.concatenate(features, axis=1)
    src, dst = [], []
    for a, b in ((index[:, :-1], index[:, 1:]), (index[:-1], index[1:])):
        src.append(a.ravel())
        dst.append(b.ravel())
    i, j = np.concatenate(src), np.concatenate(dst)
    weight = np.exp(-0.5 * ((flat[i] - flat[j]) ** 2).sum(axis=1))
    adjacency = sp.coo_matrix((np.concatenate([weight, weight]), (np.concatenate([i, j]), np.concatenate([j, i]))),
                              shape=(h * w, h * w)).tocsr()
    return sp.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency


class HintField:
    """The edge-aware spreading operator of one L grid and one set of hinted cells, factorized once: :meth:`spread`
    solves the Dirichlet problem above for any values on the hinted cells (each column is one right-hand side)."""

    def __init__(self, l: np.ndarray, hint_mask: np.ndarray, sigma: float = EDGE_SIGMA,
                 decay: float = DECAY, color: np.ndarray | None = None,
                 color_sigma: float | None = COLOR_SIGMA) -> None:
        h, w = l.shape
        mask = np.asarray(hint_mask, bool).ravel()
        if not mask.any():
            raise ValueError("a hint field needs at least one hinted cell")
        self.shape = (h, w)
        self.free_ix, self.hint_ix = np.flatnonzero(~mask), np.flatnonzero(mask)
        self.factor = self.coupling = None
        if self.free_ix.size:
            # (Laplacian + decay)[free, free] u = -(Laplacian)[free, hinted] r.
            screen = decay * (REFERENCE_SIDE / max(h, w)) ** 2
            system = edge_laplacian(l, sigma, color, color_sigma) + sp.identity(h * w, format="csr") * screen
            free_rows = system[self.free_ix]
            self.coupling = free_rows[:, self.hint_ix]
            # Minimum-degree ordering on A + A^T suits this symmetric grid system (about 1.5x faster than default).
            self.factor = spl.splu(free_rows[:, self.free_ix].tocsc(), permc_spec="MMD_AT_PLUS_A")

    def spread(self, values: np.ndarray) -> np.ndarray:
        """(h, w, k) float32 field equal to ``values`` (n_hinted, k) on the hinted cells (row-major order)."""
        values = np.asarray(values, np.float64).reshape(self.hint_ix.size, -1)
        out = np.zeros((self.shape[0] * self.shape[1], values.shape[1]), np.float32)
        out[self.hint_ix] = values
        if self.factor is not None:
            out[self.free_ix] = self.factor.solve(-(self.coupling @ values))
        return out.reshape(*self.shape, -1)


def propagate_residuals(l: np.ndarray, ab: np.ndarray, hint_mask: np.ndarray, hint_ab: np.ndarray,
                        sigma: float = EDGE_SIGMA, decay: float = DECAY,
                        color_sigma: float | None = COLOR_SIGMA) -> np.ndarray:
    """(h, w, 2) float32: the prediction ``ab`` plus the hints' residuals spread along ``l`` and ``ab`` itself.

    ``l``: (h, w) L in [0, 100]; ``ab``: (h, w, 2) prediction; ``hint_mask``: (h, w) bool; ``hint_ab``: (2, h, w)
    hint colors (read where the mask is set). Hinted cells come out equal to their hint.
    """
    out = np.array(ab, np.float32, copy=True)
    mask = np.asarray(hint_mask, bool)
    if not mask.any():
        return out
    residual = (np.moveaxis(np.asarray(hint_ab, np.float32), 0, -1) - out)[mask]
    return out + HintField(l, mask, sigma, decay, out, color_sigma).spread(residual)
