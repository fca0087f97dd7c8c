"""Metrics from per-image outcomes: accuracy with Clopper–Pearson intervals, calibration, mCE.

All accuracies are in percent. Inputs are NumPy arrays of per-image outcomes, so every metric is a
pure function that tests can check against hand-computed values:

    clopper_pearson(5, 10, alpha=0.005)   # 99.5 % interval, as the robustness testbed reports
"""

from __future__ import annotations

from typing import Any

import numpy as np

# AlexNet's top-1 error on ImageNet-C per corruption, averaged over severities 1-5 (Hendrycks &
# Dietterich 2019, the normaliser of mCE; the values their released evaluation code uses).
ALEXNET_IMAGENET_C_ERROR = {
    "gaussian_noise": 0.886428,
    "shot_noise": 0.894468,
    "impulse_noise": 0.922640,
    "defocus_blur": 0.819880,
    "glass_blur": 0.826268,
    "motion_blur": 0.785948,
    "zoom_blur": 0.798360,
    "snow": 0.866816,
    "frost": 0.826572,
    "fog": 0.819324,
    "brightness": 0.564592,
    "contrast": 0.853204,
    "elastic_transform": 0.646056,
    "pixelate": 0.717840,
    "jpeg_compression": 0.606500,
}


def clopper_pearson(successes: int, trials: int, alpha: float = 0.005) -> tuple[float, float]:
    """Exact binomial (1 - alpha) interval for an accuracy, in percent."""
    from scipy.stats import beta

    if trials == 0:
        return (0.0, 100.0)
    lo = 0.0 if successes == 0 else beta.ppf(alpha / 2, successes, trials - successes + 1)
    hi = 1.0 if successes == trials else beta.ppf(1 - alpha / 2, successes + 1, trials - successes)
    return (100.0 * float(lo), 100.0 * float(hi))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE in percent: sum over equal-width confidence bins of |accuracy - mean confidence| * share."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidence.size == 0:
        return float("nan")
    # Bin i holds confidences in (i/bins, (i+1)/bins]; confidence 0 goes into the first bin.
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += abs(correct[in_bin].mean() - confidence[in_bin].mean()) * in_bin.mean()
    return 100.0 * total


def per_class_accuracy(
    correct: np.ndarray, targets: np.ndarray, class_ids: tuple[str, ...]
) -> dict[str, float]:
    """{class id: accuracy %} for classes with at least one image."""
    out = {}
    for index in np.unique(targets):
        mask = targets == index
        out[class_ids[int(index)]] = 100.0 * float(np.asarray(correct)[mask].mean())
    return out


def accuracy_block(
    correct1: np.ndarray,
    correct5: np.ndarray,
    confidence: np.ndarray,
    targets: np.ndarray,
    class_ids: tuple[str, ...],
) -> dict[str, Any]:
    """The metrics recorded for one (model, benchmark) pair."""
    n = int(correct1.size)
    hits = int(np.sum(correct1))
    pcs = per_class_accuracy(correct1, targets, class_ids)
    return {
        "top1": 100.0 * hits / n if n else float("nan"),
        "top5": 100.0 * float(np.mean(correct5)) if n else float("nan"),
        "top1_ci": list(clopper_pearson(hits, n)),
        "ci_level": 0.995,
        "ece": expected_calibration_error(confidence, correct1),
        "mean_per_class_top1": float(np.mean(list(pcs.values()))) if pcs else float("nan"),
        "per_class_top1": pcs,
    }


def group_accuracy(correct1: np.ndarray, groups: list[str]) -> dict[str, float]:
    groups_arr = np.asarray(groups)
    return {g: 100.0 * float(np.mean(correct1[groups_arr == g])) for g in sorted(set(groups))}


def mean_corruption_error(group_top1: dict[str, float]) -> dict[str, Any]:
    """ImageNet-C CE per corruption (error summed over severities / AlexNet's) and their mean, in %.

    `group_top1` maps "corruption/severity" to top-1 %. mCE covers the 15 standard corruptions; it is
    reported as partial when some are absent.
    """
    errors: dict[str, list[float]] = {}
    for group, top1 in group_top1.items():
        corruption, _, _severity = group.partition("/")
        errors.setdefault(corruption, []).append(1.0 - top1 / 100.0)
    ce = {
        c: 100.0 * float(np.mean(e)) / ALEXNET_IMAGENET_C_ERROR[c]
        for c, e in sorted(errors.items())
        if c in ALEXNET_IMAGENET_C_ERROR
    }
    incomplete = sorted(c for c, e in errors.items() if c in ALEXNET_IMAGENET_C_ERROR and len(e) != 5)
    missing = sorted(set(ALEXNET_IMAGENET_C_ERROR) - set(ce))
    return {
        "corruption_error": ce,
        "mce": float(np.mean(list(ce.values()))) if ce else float("nan"),
        "mce_complete": not missing and not incomplete,
        "mce_missing": missing + [f"{c} (not all 5 severities)" for c in incomplete],
    }
