"""The generator's holdout: training-split images the demo generators never see, the only images their
shipping gates (generator_check.py) score on.

    idx = holdout_indices(labels)                  # the last 200 per class of the seed-0 shuffle
    images, labels = read_holdout(fashion_root)    # (2000, 32, 32, 3) uint8, (2000,)

Why the training split: the demo's classifiers are scored on a subset of the *test* split
(shift_benchmark.py), so a gate that read it would tune the shipped generator on the demo's own test
images. Why the *tail* of the seed-0 shuffle: `select_per_class(labels, n, seed=0)` takes the head of
that very shuffle, so the finetuned generator's real photos (100 per class, seed 0) and the demo's real
subsets at its default data seed (0) are disjoint from the holdout by construction, for any n up to
class size - HOLDOUT_PER_CLASS (5,800 on Fashion-MNIST). The base generator trains on everything else
(`training_indices`). A demo run with another --data-seed may draw holdout images into a *classifier's*
real subset; that does not weaken the gate, which judges the generator: the generator never trained on
them, and the classifiers are scored on the test split, never on the holdout.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .fashion_mnist import CLASSES, read_idx_split, to_rgb32

HOLDOUT_PER_CLASS = 200
# Fixed, not the demo's --data-seed: the holdout is a property of the shipped generators.
HOLDOUT_SEED = 0


def holdout_indices(
    labels: np.ndarray, per_class: int = HOLDOUT_PER_CLASS, seed: int = HOLDOUT_SEED
) -> np.ndarray:
    """Sorted training-split indices of the holdout: the last `per_class` images of each class in the
    seeded shuffle whose head `select_per_class(labels, n, seed)` takes."""
    order = np.random.default_rng(seed).permutation(len(labels))  # select_per_class's order
    keep = []
    for c in range(len(CLASSES)):
        members = order[labels[order] == c]
        # At least one image of the class must stay for training, or the generator could not learn it.
        if len(members) <= per_class:
            raise DatasetError(
                f"class {CLASSES[c][0]!r} has {len(members)} training images; a holdout of {per_class} "
                "per class needs more"
            )
        keep.append(members[len(members) - per_class :])
    return np.sort(np.concatenate(keep))


def training_indices(labels: np.ndarray, per_class: int = HOLDOUT_PER_CLASS) -> np.ndarray:
    """Sorted indices of the training split without the holdout: what the base generator trains on."""
    mask = np.ones(len(labels), dtype=bool)
    mask[holdout_indices(labels, per_class)] = False
    return np.flatnonzero(mask)


def read_holdout(
    fashion_root: str | Path, per_class: int = HOLDOUT_PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """The holdout as (N, 32, 32, 3) uint8 images and (N,) labels; reads only the training split."""
    images, labels = read_idx_split(fashion_root, "train")
    idx = holdout_indices(labels, per_class)
    return to_rgb32(images[idx]), labels[idx]


def describe_holdout(labels: np.ndarray, per_class: int = HOLDOUT_PER_CLASS) -> dict:
    """The holdout's provenance record (written into the shipped generators' demo_generator.json)."""
    idx = holdout_indices(labels, per_class)
    return {
        "split": "train",
        "rule": f"last {per_class} images per class of select_per_class's seed-{HOLDOUT_SEED} shuffle",
        "defined_in": "genrobust_fast/demo/holdout.py",
        "per_class": per_class,
        "seed": HOLDOUT_SEED,
        "images": int(len(idx)),
        "indices_sha256": hashlib.sha256(idx.astype("<i8").tobytes()).hexdigest(),
    }
