"""The SAM backend: segment-anything (vit_b/l/h) or MobileSAM (vit_t) behind the real SamPredictor and
SamAutomaticMaskGenerator, with the image embedding cached by content so repeated prompts skip the encoder."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chromaseg.core.segment.cache import Embedding, EmbeddingCache, content_key
from chromaseg.core.segment.images import to_rgb8
from chromaseg.core.segment.labels import cap_labels
from chromaseg.core.segment.registry import ModelEntry
from chromaseg.core.segment.tv_ops import ensure_torchvision

MASK_LOGIT = 8.0  # magnitude of the logits a selection becomes when it is given to SAM as a mask prompt


def sam_package(model_type: str) -> Any:
    """segment_anything, or mobile_sam for vit_t (same API, TinyViT encoder); torchvision is made importable first."""
    ensure_torchvision()
    if model_type == "vit_t":
        import mobile_sam

        return mobile_sam
    import segment_anything

    return segment_anything


def build_sam(entry: ModelEntry) -> torch.nn.Module:
    """The untrained network of ``entry``: upstream's builder, or a ViT of ``entry.arch``'s size (small test models).

    arch keys: embed_dim, depth, num_heads, global_attn_indexes, image_size, window_size, prompt_embed_dim."""
    pkg = sam_package(entry.model_type)
    if not entry.arch:
        return pkg.sam_model_registry[entry.model_type](checkpoint=None)
    from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                           TwoWayTransformer)

    a = entry.arch
    size, patch, dim = a.get("image_size", 1024), 16, a.get("prompt_embed_dim", 256)
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=size, patch_size=patch, embed_dim=a["embed_dim"], depth=a["depth"], num_heads=a["num_heads"],
            mlp_ratio=4, out_chans=dim, qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True, window_size=a.get("window_size", 14),
            global_attn_indexes=tuple(a.get("global_attn_indexes", ()))),
        prompt_encoder=PromptEncoder(embed_dim=dim, image_embedding_size=(size // patch, size // patch),
                                     input_image_size=(size, size), mask_in_chans=16),
        mask_decoder=MaskDecoder(num_multimask_outputs=3,
                                 transformer=TwoWayTransformer(depth=2, embedding_dim=dim, mlp_dim=8 * dim,
                                                               num_heads=8),
                                 transformer_dim=dim, iou_head_depth=3, iou_head_hidden_dim=dim),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375],
    )


def load_sam(entry: ModelEntry, checkpoint: str | Path, device: str = "cpu") -> torch.nn.Module:
    """``entry``'s network with the checkpoint's weights (strict: a wrong architecture fails here, not in a prompt)."""
    model = build_sam(entry)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()


class SamBackend:
    """Prompts and automatic masks from one loaded SAM; one predictor, its embeddings kept in ``cache``."""

    def __init__(self, model: torch.nn.Module, model_type: str, name: str,
                 cache: EmbeddingCache | None = None, points_per_side: int = 32) -> None:
        pkg = sam_package(model_type)
        self.name = name
        self.model = model
        self.cache = cache if cache is not None else EmbeddingCache()
        self.points_per_side = points_per_side
        self._generator_cls = pkg.SamAutomaticMaskGenerator
        self.predictor = _cached_predictor_class(pkg.SamPredictor, self.cache, name)(model)
        self._image: np.ndarray | None = None  # the image set
        self._encoded = False  # whether the predictor holds its embedding (`auto` leaves crops there)

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        """Encode ``image`` (or take its embedding from the cache): every prompt until the next call reuses it."""
        self.predictor.set_image(to_rgb8(image))
        self._image, self._encoded = image, True

    @torch.inference_mode()
    def prompt(self, points: np.ndarray | None, labels: np.ndarray | None,
               box: tuple[int, int, int, int] | None, mask: np.ndarray | None) -> np.ndarray:
        if self._image is None:
            raise ValueError("no image to prompt on: call set_image first")
        if not self._encoded:  # `auto` ran since: its embedding comes back from the cache
            self.set_image(self._image)
        mask_input = None
        if mask is not None:
            mask_input = self._mask_logits(mask)
            if box is None and points is None:
                ys, xs = np.nonzero(mask)
                box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        # one point is ambiguous (part, object, whole): ask for three masks and keep the best-scored one
        multimask = box is None and mask is None and (points is None or len(points) == 1)
        masks, scores, _ = self.predictor.predict(
            point_coords=None if points is None else points.astype(np.float32),
            point_labels=None if points is None else labels.astype(np.int64),
            box=None if box is None else np.asarray(box, np.float32),
            mask_input=mask_input, multimask_output=multimask)
        out = masks[int(np.argmax(scores))].astype(bool)
        if box is not None:
            x0, y0, x1, y1 = box
            inside = np.zeros_like(out)
            inside[y0:y1, x0:x1] = True
            out &= inside
        return out

    def _mask_logits(self, mask: np.ndarray) -> np.ndarray:
        """A selection as SAM's low-resolution mask prompt: resized like the image, padded, at 1/4 of the input."""
        import torch.nn.functional as F

        p = self.predictor
        side = p.model.image_encoder.img_size
        t = torch.from_numpy(mask.astype(np.float32))[None, None]
        t = F.interpolate(t, size=p.input_size, mode="bilinear", align_corners=False)
        t = F.pad(t, (0, side - p.input_size[1], 0, side - p.input_size[0]))
        low = p.model.prompt_encoder.mask_input_size
        t = F.interpolate(t, size=low, mode="bilinear", align_corners=False)
        return ((t[0] * 2 - 1) * MASK_LOGIT).numpy()

    @torch.inference_mode()
    def auto(self, image: np.ndarray, max_segments: int = 64, min_area: int | None = None) -> np.ndarray:
        rgb = to_rgb8(image)
        generator = self._generator_cls(self.model, points_per_side=self.points_per_side,
                                        min_mask_region_area=0)
        generator.predictor = self.predictor  # the generator's encoder pass goes through the cache too
        self._encoded = False  # the generator leaves its crops in the predictor
        records = sorted(generator.generate(rgb), key=lambda r: r["area"], reverse=True)
        records = [r for r in records if r["area"] >= (min_area or 0)][:max_segments]
        labels = np.full(rgb.shape[:2], -1, np.int32)
        for i, r in enumerate(records):  # largest first, so smaller objects stay visible on top of their context
            labels[r["segmentation"]] = i
        return cap_labels(labels, max_segments)


def _cached_predictor_class(base: type, cache: EmbeddingCache, salt: str) -> type:
    """``base`` (a SamPredictor class) whose set_image looks the embedding up in ``cache`` before encoding."""

    class CachedPredictor(base):  # type: ignore[misc, valid-type]
        def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
            key = content_key(image, f"{salt}|{image_format}")
            hit = cache.get(key)
            if hit is None:
                super().set_image(image, image_format)
                cache.put(key, Embedding(self.features, tuple(self.original_size), tuple(self.input_size)))
                return
            self.reset_image()
            self.features, self.original_size, self.input_size = hit.features, hit.original_size, hit.input_size
            self.is_image_set = True

    return CachedPredictor
