"""The models the daemon's worker owns: loaded once in the worker thread, with status strings that say why one is
missing; and the segmenter's current image, kept between requests so a prompt on the same layer skips straight to
the prompt (predictor-style: set the image once, prompt many times)."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from chromaseg.bridge.contract import ColorizerInfo
from chromaseg.bridge.protocol import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


class Models:
    """The colorizer (`chromaseg.core.colorize.Colorizer`) and the segmenter (`chromaseg.core.segment.Segmenter`)."""

    def __init__(self, colorizer_path: str | None = None) -> None:
        self._colorizer_path = colorizer_path
        self.colorizer: Any = None
        self.segmenter: Any = None
        self.status = {"colorizer": "loading", "segmenter": "loading"}
        self.device = "loading"

    def load(self) -> None:
        """Load both models (in the worker thread, before its first job); a failure becomes that model's status."""
        try:
            import torch

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            self.device = "cpu"
        try:
            from chromaseg.core.colorize import Colorizer

            self.colorizer = Colorizer.load(self._colorizer_path)
            self.status["colorizer"] = f"ready ({self._colorizer_path or 'shipped weights'})"
        except Exception as exc:  # no weights yet: the op answers `unavailable` with this reason
            self.status["colorizer"] = f"unavailable: {type(exc).__name__}: {exc}"
        try:
            from chromaseg.core.segment import Segmenter

            self.segmenter = Segmenter.default()
            self.status["segmenter"] = f"ready ({self.segmenter.backend}: {self.segmenter.reason})"
        except Exception as exc:
            self.status["segmenter"] = f"unavailable: {type(exc).__name__}: {exc}"
        log.info("models: %s on %s", self.status, self.device)

    def colorizer_info(self) -> dict[str, Any] | None:
        """The loaded colorizer's own defaults (what colorize's model-owned params become) and its file; None while
        loading or when there is none."""
        return None if self.colorizer is None else ColorizerInfo(**self.colorizer.info()).to_dict()

    def segmenter_info(self) -> dict[str, str] | None:
        """The active segmentation backend ("sam:<entry>" or "classic") and why it was chosen (None while loading)."""
        seg = self.segmenter
        return None if seg is None else {"backend": seg.backend, "reason": seg.reason}

    def unavailable(self, need: str | None) -> str | None:
        """Why a model the op needs is missing (None when it is there or still loading)."""
        if need is None or self.status[need] == "loading" or getattr(self, need) is not None:
            return None
        return f"the {need} is not available in this daemon: {self.status[need]}"

    def require(self, need: str) -> Any:
        """The model, or ProtocolError `unavailable` saying why it is missing."""
        why = self.unavailable(need)
        if why is not None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, why)
        return getattr(self, need)

    def segmenter_on(self, layer: np.ndarray) -> Any:
        """The segmenter set to `layer`: its image is set only when the layer differs from the one it holds."""
        seg = self.require("segmenter")
        if not seg.holds(layer):
            seg.set_image(layer)
        return seg
