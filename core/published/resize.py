"""Bringing the artist's L to a published model's fixed working size."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def l_at_working_size(l: np.ndarray, size: int) -> torch.Tensor:
    """L (H,W, 0..100) -> (1,1,size,size) by bilinear resampling with half-pixel centres (cv2's and PIL's convention,
    which both upstream pipelines use to resize their input)."""
    tensor = torch.from_numpy(np.ascontiguousarray(l, dtype=np.float32))[None, None]
    return F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)
