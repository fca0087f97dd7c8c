"""Is the demo generator good enough to ship? Its samples must teach a classifier the real classes.

    report = check_generator("genrobust_fast/resources/demo_generator", per_class=50)
    report["accuracy_on_holdout"]   # a linear classifier trained on generated images only

Samples come from diffusers' own StableDiffusionPipeline (independent of this project's generation
code), prompted `a photo of a {class name}`. A softmax-regression classifier on the grayscale pixels
is trained on them and scored on the generator's holdout (holdout.py: real training-split images the
generator never trained on); chance is 10%. Neither check reads the test split: the demo's classifiers
are scored on it.

    rendition_check("genrobust_fast/resources/demo_generator")["all"]   # chance 0.25

does it draw the rendition its prompt names ("a sketch of a coat.")? Each sample is assigned to the
nearest centroid of the holdout's real images rendered each way.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .fashion_mnist import CLASSES, DEFAULT_ROOT, read_idx_split, to_rgb32
from .holdout import HOLDOUT_PER_CLASS, holdout_indices, training_indices
from .shifts import FOREGROUND_LEVEL

log = logging.getLogger(__name__)


def sample_generator(
    model: str | Path,
    per_class: int,
    steps: int = 15,
    guidance: float = 3.0,
    seed: int = 0,
    template: str = "a photo of a {}",
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 32, 32, 3) uint8 images and (N,) class indices, `per_class` per Fashion-MNIST class."""
    import torch
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        model, safety_checker=None, requires_safety_checker=False, local_files_only=True
    )
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    images, labels = [], []
    for c, (_, name) in enumerate(CLASSES):
        gen = torch.Generator().manual_seed(seed + c)
        out = pipe(
            [template.format(name)] * per_class,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=gen,
            output_type="np",
            height=32,
            width=32,
        ).images
        images.append(np.rint(out * 255).astype(np.uint8))
        labels += [c] * per_class
    return np.concatenate(images), np.asarray(labels)


def linear_probe_accuracy(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    epochs: int = 300,
    seed: int = 0,
) -> float:
    """Softmax regression on standardised grayscale pixels; returns test accuracy in percent."""
    import torch

    def features(x):
        return torch.from_numpy(x.astype(np.float32).mean(axis=-1).reshape(len(x), -1) / 255.0)

    xtr, xte = features(train_x), features(test_x)
    mean, std = xtr.mean(0), xtr.std(0) + 1e-3
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    torch.manual_seed(seed)
    layer = torch.nn.Linear(xtr.shape[1], len(CLASSES))
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2, weight_decay=1e-3)
    ytr = torch.from_numpy(train_y).long()
    for _ in range(epochs):
        loss = torch.nn.functional.cross_entropy(layer(xtr), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = layer(xte).argmax(1).numpy()
    return float((pred == test_y).mean() * 100)


def check_generator(
    model: str | Path,
    per_class: int = 50,
    fashion_root: str | Path = DEFAULT_ROOT,
    holdout_per_class: int = HOLDOUT_PER_CLASS,
    seed: int = 0,
    steps: int = 15,
) -> dict:
    """Accuracy on the holdout of a linear probe trained on `per_class` samples per class, and of the
    same probe trained on as many real training images outside the holdout (the ceiling)."""
    gen_x, gen_y = sample_generator(model, per_class, steps=steps, seed=seed)
    images, labels = read_idx_split(fashion_root, "train")
    held = holdout_indices(labels, holdout_per_class)
    test_x, test_y = to_rgb32(images[held]), labels[held]
    rest = training_indices(labels, holdout_per_class)
    pick = rest[np.random.default_rng(seed).permutation(len(rest))[: len(gen_y)]]
    report = {
        "generated_per_class": per_class,
        "scored_on": f"holdout of the training split ({len(held)} images, holdout.py)",
        "accuracy_on_holdout": linear_probe_accuracy(gen_x, gen_y, test_x, test_y),
        # The same probe trained on as many real images: the ceiling the generated set is measured against.
        "real_trained_accuracy": linear_probe_accuracy(to_rgb32(images[pick]), labels[pick], test_x, test_y),
        "chance": 100.0 / len(CLASSES),
    }
    log.info("generator check: %s", report)
    return report


def rendition_features(images: np.ndarray) -> np.ndarray:
    """(N, 4) features that tell the renditions apart: mean grey level, bright fraction, edge energy and
    the garment's mean grey level (pixels above the background level)."""
    gray = images.astype(np.float32).mean(axis=-1) / 255.0
    edges = np.abs(np.diff(gray, axis=2)).mean(axis=(1, 2)) + np.abs(np.diff(gray, axis=1)).mean(axis=(1, 2))
    garment = gray > FOREGROUND_LEVEL / 255.0
    garment_level = (gray * garment).sum(axis=(1, 2)) / np.maximum(garment.sum(axis=(1, 2)), 1)
    return np.stack([gray.mean(axis=(1, 2)), (gray > 0.5).mean(axis=(1, 2)), edges, garment_level], axis=1)


def rendition_check(
    model: str | Path,
    per_class: int = 3,
    fashion_root: str | Path = DEFAULT_ROOT,
    steps: int = 10,
    seed: int = 0,
    holdout_per_class: int = HOLDOUT_PER_CLASS,
) -> dict:
    """Does the generator draw the rendition its prompt names? Samples each rendition's first template and
    assigns every image to the nearest rendition centroid of the holdout's real images rendered that way.
    Returns {rendition: fraction of its samples assigned to it}, and "all" (chance: 1 / renditions)."""
    from .holdout import read_holdout
    from .shifts import GENERATOR_RENDITIONS, RENDITIONS

    real, _ = read_holdout(fashion_root, holdout_per_class)
    rendered = {r: rendition_features(RENDITIONS[r].transform(real)) for r in GENERATOR_RENDITIONS}
    scale = np.concatenate(list(rendered.values())).std(axis=0)
    centroids = np.stack([rendered[r].mean(axis=0) for r in GENERATOR_RENDITIONS]) / scale
    report = {}
    for r in GENERATOR_RENDITIONS:
        images, _ = sample_generator(
            model, per_class, steps=steps, seed=seed, template=RENDITIONS[r].templates[0]
        )
        features = rendition_features(images) / scale
        nearest = np.linalg.norm(features[:, None, :] - centroids[None], axis=2).argmin(axis=1)
        report[r] = float((nearest == GENERATOR_RENDITIONS.index(r)).mean())
    report["all"] = float(np.mean([report[r] for r in GENERATOR_RENDITIONS]))
    return report
