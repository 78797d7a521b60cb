"""A published colorizer (SIGGRAPH17, DDColor) behind the same `colorize` as the project's own model.

Only the network differs. ``PublishedColorizer`` is a :class:`~chromaseg.core.colorize.Colorizer` whose network is
an adapter: it takes the model-resolution L (and hints) that ``predict_chroma`` hands every network, brings them to
the published model's fixed square working size with its upstream preprocessing (SIGGRAPH17: L, hint ab and hint
mask at 256 px, normalized inside the model as (L - 50) / 100 and ab / 110; DDColor: the sRGB rendering of (L, 0, 0)
at 512 px, no hint input) and returns ab at that size. Everything after it is the shared pipeline: ab is brought
back to the model-resolution grid, hints correct it by residual propagation along L (for DDColor the only way a
hint acts; SIGGRAPH17 also sees them as input), guided upsampling under the input's exact L, the segment pass,
confined hints, harmonization and the selection blend.

``vibrancy`` has no meaning here (these networks regress ab; there is no class rebalancing to keep or undo): it is
range-checked like the project model's and then ignored, and :meth:`PublishedColorizer.info` reports it as None.
``resolution`` is the guide grid's long side (default: the working size); the network itself always sees its
working size.

``load_colorizer(spec, arch)`` is the one way a published colorizer is loaded: a registry name (``siggraph17``,
``ddcolor-tiny``, ...) resolves to its verified file in the weights directory, or a path with ``arch`` loads a file
in that architecture's upstream layout; either way with strict key and shape checks.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from chromaseg.core.classes import check_vibrancy
from chromaseg.core.colorize import Colorizer
from chromaseg.core.published import ddcolor, siggraph17
from chromaseg.core.published.architectures import PublishedArchitecture, architecture, load_published

__all__ = ["NotInstalled", "PublishedColorizer", "UnknownColorizer", "colorizer_names", "fetch_command",
           "installed_colorizers", "is_published_name", "load_colorizer"]


class UnknownColorizer(ValueError):
    """A name that is neither a registry colorizer nor, with ``arch``, a known architecture."""


class NotInstalled(FileNotFoundError):
    """A registry colorizer whose file is missing or damaged; the message names the fetch command."""


def fetch_command(name: str) -> str:
    return f"chromaseg weights fetch {name}"


class _DirectAB:
    """``predict_ab``'s decoding step for a network that already outputs ab: nothing to decode."""

    def __call__(self, ab: torch.Tensor, centers: Any) -> torch.Tensor:
        return ab


_DIRECT_AB = _DirectAB()


class PublishedNetwork(nn.Module):
    """The pipeline's view of a published network: (1,1,h,w) L in 0..100 [, hint ab (1,2,h,w), hint mask
    (1,1,h,w)] -> ab (1,2,S,S) at the working size S, which ``predict_ab`` brings back to (h, w) bilinearly."""

    centers = None  # read by predict_ab for its decoding step (which is `_DirectAB` here)

    def __init__(self, net: nn.Module, arch: PublishedArchitecture) -> None:
        super().__init__()
        self.net = net.eval()
        self.arch = arch

    def forward(self, l: torch.Tensor, hint_ab: torch.Tensor | None = None,
                hint_mask: torch.Tensor | None = None) -> torch.Tensor:
        size = self.arch.working_size
        l_work = F.interpolate(l, size=(size, size), mode="bilinear", align_corners=False)
        if not self.arch.takes_hints:  # DDColor: automatic; the pipeline's propagation applies any hints
            return self.net(ddcolor.gray_rgb_from_l(l_work[:, 0]))
        if hint_ab is None:
            ab_work = torch.zeros((l.shape[0], 2, size, size), dtype=l.dtype, device=l.device)
            mask_work = torch.zeros((l.shape[0], 1, size, size), dtype=l.dtype, device=l.device)
        else:
            ab, mask = siggraph17.hints_at_working_size(hint_ab[0].cpu().numpy(), hint_mask[0, 0].cpu().numpy(),
                                                        size)
            ab_work, mask_work = ab.to(l.device), mask.to(l.device)
        return self.net(l_work, ab_work, mask_work)


class PublishedColorizer(Colorizer):
    """A published network with the project pipeline around it; ``colorize`` is :meth:`Colorizer.colorize`.

    Attributes: ``name`` (registry name or architecture), ``arch`` (its `PublishedArchitecture`), ``path``,
    ``resolution`` (the guide grid's default long side: the working size), ``vibrancy`` None (ignored, see the
    module docstring).
    """

    hinted_share = 1.0  # its own use of the hints, as published (the mean of two passes was measured for CCC only)

    def __init__(self, net: nn.Module, arch: PublishedArchitecture, path: str | os.PathLike,
                 name: str | None = None) -> None:
        # Not Colorizer.__init__: that one reads a class table and decoding defaults from a CCC checkpoint.
        self.net = PublishedNetwork(net, arch).eval()
        self.arch = arch
        self.name = name or arch.name
        self.path = Path(path)
        self.resolution = arch.working_size
        self.vibrancy = None
        self.temperature = None
        self._segmenter = None

    def decoding(self, vibrancy: float | None = None) -> _DirectAB:
        """No decoding to adjust: a given vibrancy is range-checked, then ignored."""
        if vibrancy is not None:
            check_vibrancy(vibrancy)
        return _DIRECT_AB

    def to(self, device: str | torch.device) -> PublishedColorizer:
        self.net.to(device)
        return self

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "arch": self.arch.name, "vibrancy": None, "resolution": self.resolution,
                "takes_hints": self.arch.takes_hints, "path": str(self.path)}


def _registry() -> Any:
    from chromaseg.core.segment import registry

    return registry


def colorizer_names(root: str | os.PathLike | None = None) -> list[str]:
    """The registry's colorizer entries (built-in and the weights directory's registry.json)."""
    return [name for name, entry in _registry().entries(root).items() if entry.kind == "colorizer"]


def installed_colorizers(root: str | os.PathLike | None = None) -> list[str]:
    """The registry colorizers whose files are present (cheap: no hashing; loading verifies)."""
    registry = _registry()
    base = Path(root) if root is not None else registry.weights_dir()
    return sorted(name for name, entry in registry.entries(base).items()
                  if entry.kind == "colorizer" and all((base / wf.path).is_file() for wf in entry.files))


def load_colorizer(spec: str | os.PathLike, arch: str | None = None,
                   root: str | os.PathLike | None = None) -> PublishedColorizer:
    """A published colorizer: ``spec`` a registry name (its file verified in the weights directory ``root``, default
    $CHROMASEG_WEIGHTS), or with ``arch`` a file in that architecture's upstream layout.

    Raises UnknownColorizer (no such name or architecture), NotInstalled (the registry's file is missing or damaged;
    the message names ``chromaseg weights fetch NAME``) or CheckpointError (one line: an unreadable, truncated or
    misshapen file)."""
    if arch is not None:
        try:
            chosen = architecture(arch)
        except KeyError as exc:
            raise UnknownColorizer(exc.args[0]) from None
        return PublishedColorizer(load_published(chosen.name, spec), chosen, spec, chosen.name)
    registry = _registry()
    base = Path(root) if root is not None else registry.weights_dir()
    name = str(spec)
    entry = registry.entries(base).get(name)
    if entry is None or entry.kind != "colorizer":
        known = ", ".join(colorizer_names(base))
        raise UnknownColorizer(f"unknown colorizer {name!r} (known: {known})")
    problems = {path: why for path, why in registry.check(entry, base).items() if why}
    if problems:
        path, why = next(iter(problems.items()))
        state = "is not installed" if why == "missing" else f"is damaged ({why})"
        raise NotInstalled(f"colorizer {name} {state}: {base / path}; run `{fetch_command(name)}`")
    (weight_file,) = entry.files
    chosen = architecture(entry.model_type or name)
    return PublishedColorizer(load_published(chosen.name, base / weight_file.path), chosen, base / weight_file.path,
                              name)


def is_published_name(spec: str | os.PathLike | None, root: str | os.PathLike | None = None) -> bool:
    """Whether ``spec`` names a registry colorizer (and not an existing file)."""
    return spec is not None and not Path(spec).exists() and str(spec) in colorizer_names(root)

