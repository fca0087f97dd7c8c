"""Training throughput: `genrobust train` (DeepSpeed + our loader) vs a plain PyTorch loop.

Both train the same architecture at the same size for the same number of steps on the same JPEGs; the
plain loop uses torchvision's ImageFolder + transforms.v2 DataLoader and a bare SGD step. Correctness
first: our run must finish with a finite loss and export a model that loads with its card.

    result = bench_train(arch="resnet18", image_size=112, steps=30)
    result["ours"]["images_per_s"], result["ours"]["data_wait_fraction"], result["ratio_vs_plain"]
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ParityError
from .loader import _plain_loader, make_generated_jpegs


def _plain_training(
    root: Path, arch: str, image_size: int, batch_size: int, steps: int, threads: int, classes: int
) -> dict[str, Any]:
    import torch

    from ..classifiers import create_classifier

    torch.manual_seed(0)
    model = create_classifier(arch, classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    loader = _plain_loader(root, image_size, batch_size, threads, train=True)
    done, wait, total, images = 0, 0.0, 0.0, 0
    while done < steps:
        tick = time.perf_counter()
        for x, y in loader:
            got = time.perf_counter()
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            end = time.perf_counter()
            done += 1
            # Every step counts, the first (worker start-up) included, exactly as the trainer measures itself.
            wait, total, images = wait + got - tick, total + end - tick, images + len(y)
            if done >= steps:
                break
            tick = time.perf_counter()
    return {
        "images_per_s": round(images / max(total, 1e-9), 2),
        "data_wait_fraction": round(wait / max(total, 1e-9), 4),
        "final_loss": round(loss.item(), 4),
    }


def bench_train(
    arch: str = "resnet18",
    image_size: int = 112,
    batch_size: int = 32,
    steps: int = 30,
    n_images: int = 1024,
    source_size: int = 160,
    loader: str = "auto",
    threads: int | None = None,
    precision: str = "auto",
    quick: bool = False,
) -> dict[str, Any]:
    """Images/s and data-wait fraction of our trainer, and the same for a plain PyTorch loop.
    `quick`: 8 steps of 16 images from 128 (a smoke run, not a measurement)."""
    from ..classifiers import load_classifier
    from ..training import TrainConfig, train

    if quick:
        steps, batch_size, n_images = 8, 16, 128
    threads = threads or max(1, len(os.sched_getaffinity(0)))
    classes = 10
    with tempfile.TemporaryDirectory(prefix="genrobust-bench-train-") as tmp:
        real = make_generated_jpegs(Path(tmp) / "real", n_images, source_size, classes=classes)
        epochs = math.ceil(steps * batch_size / n_images) + 1
        result = train(
            TrainConfig(
                real=str(real),
                arch=arch,
                image_size=image_size,
                batch_size=batch_size,
                epochs=epochs,
                max_steps=steps,
                lr=0.01,
                loader=loader,
                workers=threads,
                precision=precision,
                progress=False,
                out=str(Path(tmp) / "run"),
                log_every=steps,
                channels_last=True,
            )
        )
        if result["final_loss"] is None or not math.isfinite(result["final_loss"]):
            raise ParityError(f"training diverged or logged no loss: {result['final_loss']}")
        _, card = load_classifier(result["model"])
        if len(card.label_space) != classes:
            raise ParityError(f"exported card has {len(card.label_space)} classes, expected {classes}")
        plain = _plain_training(real, arch, image_size, batch_size, steps, threads, classes)
    ours = {k: result[k] for k in ("images_per_s", "data_wait_fraction", "final_loss", "precision", "loader")}
    ours["channels_last"] = True
    return {
        "benchmark": "train",
        "arch": arch,
        "image_size": image_size,
        "batch_size": batch_size,
        "steps": steps,
        "threads": threads,
        "cpus": os.cpu_count(),
        "ours": ours,
        "plain_pytorch": plain,
        "ratio_vs_plain": round(ours["images_per_s"] / max(plain["images_per_s"], 1e-9), 3),
        "note": "both measured over all steps, loader start-up included; our loss is on a real run; ours "
        "feeds NHWC batches (train's default), the plain loop the NCHW ones a DataLoader yields",
    }
