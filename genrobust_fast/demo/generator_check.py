"""Is the demo generator good enough to ship? Its samples must teach a classifier the real classes.

    report = check_generator("genrobust_fast/resources/demo_generator", per_class=50)
    report["accuracy_on_real_test"]   # a linear classifier trained on generated images only

Samples come from diffusers' own StableDiffusionPipeline (independent of this project's generation
code), prompted `a photo of a {class name}`. A softmax-regression classifier on the grayscale pixels
is trained on them and scored on the real Fashion-MNIST test split; chance is 10%.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .fashion_mnist import CLASSES, DEFAULT_ROOT, read_idx_split, to_rgb32

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
    test_images: int = 2000,
    seed: int = 0,
) -> dict:
    gen_x, gen_y = sample_generator(model, per_class, seed=seed)
    test_x, test_y = read_idx_split(fashion_root, "test")
    test_x, test_y = to_rgb32(test_x[:test_images]), test_y[:test_images]
    real_x, real_y = read_idx_split(fashion_root, "train")
    pick = np.random.default_rng(seed).permutation(len(real_y))[: len(gen_y)]
    report = {
        "generated_per_class": per_class,
        "accuracy_on_real_test": linear_probe_accuracy(gen_x, gen_y, test_x, test_y),
        # The same probe trained on as many real images: the ceiling the generated set is measured against.
        "real_trained_accuracy": linear_probe_accuracy(to_rgb32(real_x[pick]), real_y[pick], test_x, test_y),
        "chance": 100.0 / len(CLASSES),
    }
    log.info("generator check: %s", report)
    return report
