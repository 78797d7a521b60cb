"""The models the daemon's worker owns: loaded once in the worker thread, with status strings that say why one is
missing; the published colorizers a request names (loaded on first use, a few kept); and the segmenter's current
image, kept between requests so a prompt on the same layer skips straight to the prompt (predictor-style: set the
image once, prompt many times)."""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from chromaseg.bridge.contract import ColorizerInfo
from chromaseg.bridge.protocol import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

MAX_PUBLISHED = 2  # published colorizers kept loaded (least recently used goes first): DDColor-L is about 1 GB


class Models:
    """The colorizer (`chromaseg.core.colorize.Colorizer`) and the segmenter (`chromaseg.core.segment.Segmenter`)."""

    def __init__(self, colorizer_path: str | None = None) -> None:
        self._colorizer_path = colorizer_path
        self.colorizer: Any = None
        self.segmenter: Any = None
        self.status = {"colorizer": "loading", "segmenter": "loading"}
        self.device = "loading"
        self._published: OrderedDict[str, Any] = OrderedDict()  # name -> PublishedColorizer, most recent last
        # the installed published colorizers `info` lists: found by the worker (never the socket loop, which must
        # not wait on an import lock the loading worker holds), at start-up and whenever one is loaded
        self.colorizers: list[str] | None = None

    def load(self) -> None:
        """Load both models (in the worker thread, before its first job); a failure becomes that model's status."""
        try:
            import torch

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            self.device = "cpu"
        self.colorizers = self._installed_colorizers()  # before the statuses leave "loading"
        try:
            from chromaseg.core.colorize import Colorizer

            self.colorizer = Colorizer.load(self._colorizer_path).to(self.device)
            self.status["colorizer"] = f"ready ({self._colorizer_path or 'shipped weights'})"
        except Exception as exc:  # no weights yet: the op answers `unavailable` with this reason
            self.status["colorizer"] = f"unavailable: {type(exc).__name__}: {exc}"
        try:
            from chromaseg.core.segment import Segmenter

            self.segmenter = Segmenter.default()
            self.status["segmenter"] = f"ready ({self.segmenter.backend}: {self.segmenter.reason})"
        except Exception as exc:
            self.status["segmenter"] = f"unavailable: {type(exc).__name__}: {exc}"
        log.info("models: %s on %s; published colorizers installed: %s", self.status, self.device, self.colorizers)

    def colorizer_info(self) -> dict[str, Any] | None:
        """The loaded colorizer's own defaults (what colorize's model-owned params become) and its file; None while
        loading or when there is none."""
        return None if self.colorizer is None else ColorizerInfo(**self.colorizer.info()).to_dict()

    def segmenter_info(self) -> dict[str, str] | None:
        """The active segmentation backend ("sam:<entry>" or "classic") and why it was chosen (None while loading)."""
        seg = self.segmenter
        return None if seg is None else {"backend": seg.backend, "reason": seg.reason}

    def unavailable(self, need: str | None, params: dict[str, Any] | None = None) -> str | None:
        """Why a model the op needs is missing (None when it is there or still loading). A request that names a
        published colorizer does not need the default one: whether its own is installed is the worker's question
        (verifying a file reads all of it)."""
        if need == "colorizer" and params and params.get("colorizer") is not None:
            return None
        if need is None or self.status[need] == "loading" or getattr(self, need) is not None:
            return None
        return f"the {need} is not available in this daemon: {self.status[need]}"

    def require(self, need: str) -> Any:
        """The model, or ProtocolError `unavailable` saying why it is missing."""
        why = self.unavailable(need)
        if why is not None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, why)
        return getattr(self, need)

    def colorizer_for(self, name: str | None, progress: Callable[[str, int, int], None] | None = None) -> Any:
        """The default colorizer (``name`` None) or the published one named, loaded on its first request (in the
        worker thread) and kept among the MAX_PUBLISHED most recently used. ProtocolError `bad_params` for a name
        the registry does not know, `unavailable` (with the fetch command) when its file is missing, damaged or
        cannot be loaded: never another colorizer's result."""
        if name is None:
            return self.require("colorizer")
        if name in self._published:
            self._published.move_to_end(name)
            return self._published[name]
        from chromaseg.core.published.colorizer import NotInstalled, UnknownColorizer, fetch_command, load_colorizer

        if progress is not None:
            progress("load colorizer", 0, 1)
        try:
            colorizer = load_colorizer(name).to(self.device)
        except UnknownColorizer as exc:
            raise ProtocolError(ErrorCode.BAD_PARAMS, f"colorize: {exc}") from None
        except NotInstalled as exc:
            raise ProtocolError(ErrorCode.UNAVAILABLE, str(exc)) from None
        except Exception as exc:  # e.g. out of memory, or a file that changed under the check: never `internal`
            log.exception("loading the colorizer %s failed", name)
            raise ProtocolError(ErrorCode.UNAVAILABLE, f"colorizer {name} could not be loaded: "
                                                       f"{type(exc).__name__}: {exc}; `{fetch_command(name)}` "
                                                       "replaces a damaged file") from None
        self._published[name] = colorizer
        self.colorizers = self._installed_colorizers()
        while len(self._published) > MAX_PUBLISHED:
            dropped, _ = self._published.popitem(last=False)
            log.info("unloaded the colorizer %s (keeping %d)", dropped, MAX_PUBLISHED)
        log.info("loaded the colorizer %s from %s", name, colorizer.path)
        if progress is not None:
            progress("load colorizer", 1, 1)
        return colorizer

    @staticmethod
    def _installed_colorizers() -> list[str] | None:
        """The registry's colorizers whose files are in the weights directory (present, not hashed); None when the
        registry cannot be read."""
        try:
            from chromaseg.core.published.colorizer import installed_colorizers

            return installed_colorizers()
        except Exception as exc:  # e.g. a damaged registry.json: info still answers
            log.warning("cannot list the installed colorizers: %s", exc)
            return None

    def segmenter_on(self, layer: np.ndarray) -> Any:
        """The segmenter set to `layer`: its image is set only when the layer differs from the one it holds."""
        seg = self.require("segmenter")
        if not seg.holds(layer):
            seg.set_image(layer)
        return seg
