"""The one comparator of a backend's output with its reference (as Polygraphy has one): the relative error
||actual - expected|| / ||expected||, in float64, of torch tensors (any device or dtype, bf16 included) or
NumPy arrays. Each caller keeps its tolerance (the parity tests, `genrobust bench unet`); images compare
in pixels (`generation.diffusers_parity.max_pixel_diff`).

    relative_error(ort_runners.unet(*inputs), torch_runners.unet(*inputs)) <= 1e-4
"""

from __future__ import annotations

from typing import Any

import numpy as np


def relative_error(actual: Any, expected: Any) -> float:
    """||actual - expected||₂ / ||expected||₂ over every element (an all-zero reference divides by 1e-12)."""
    ours, ref = _float64(actual), _float64(expected)
    if ours.shape != ref.shape:
        raise ValueError(f"outputs of different shapes {ours.shape} and {ref.shape} cannot be compared")
    return float(np.linalg.norm(ours - ref) / max(float(np.linalg.norm(ref)), 1e-12))


def _float64(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor: to float32 first, since NumPy has no bf16
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)
