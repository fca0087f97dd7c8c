"""Input-pipeline benchmark: `dali` and `torch`+kernel against a plain torchvision ImageFolder loader.

All three read the same generated JPEGs (a generated set in our layout), produce the same training
batches (random-resized-crop + flip + normalize to NCHW float32) and get the same thread budget
(DataLoader workers, or DALI threads). Correctness first: on the evaluation path (resize + center crop)
each loader's batches are compared with the plain torchvision preprocessing of the same images.

    result = bench_loader(n_images=2000, size=256, out_size=224, threads=2)
    result["ratios"]["dali_vs_plain"], result["ratios"]["torch_kernel_vs_plain"]
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParityError
from ..genset import (
    Layout,
    Manifest,
    image_stem,
    is_generated_set,
    member_name,
    read_manifest,
    write_done,
    write_manifest,
)
from ..labels import LabelSpace

logger = logging.getLogger(__name__)


def make_generated_jpegs(
    root: Path, n_images: int, size: int, classes: int = 10, seed: int = 0, noise: float = 12.0
) -> Path:
    """A generated set (imagefolder layout + manifest) of smooth random JPEGs; reused if already there."""
    from PIL import Image

    if is_generated_set(root) and read_manifest(root).total_images == n_images:
        return root
    rng = np.random.default_rng(seed)
    ids = [f"class{c:03d}" for c in range(classes)]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for i in range(n_images):
        cid = ids[i % classes]
        (root / cid).mkdir(parents=True, exist_ok=True)
        f = rng.uniform(1, 6, 3)
        img = np.stack([np.sin(f[c] * (xx + yy * rng.uniform(-1, 1)) * 3.14) for c in range(3)], -1)
        img = (img * 100 + 128 + rng.normal(0, noise, (size, size, 3))).clip(0, 255).astype(np.uint8)
        # Baseline (non-progressive) JPEG, as the generation writer produces.
        Image.fromarray(img).save(root / cid / member_name(image_stem(cid, i), "jpg"), quality=90)
    write_done(Layout(root, 1).done(0), {})
    space = LabelSpace(tuple(ids), tuple(ids))
    manifest = Manifest.create(
        job_id="bench",
        config={"model": "synthetic"},
        label_space=space,
        num_shards=1,
        total_images=n_images,
        output_format="imagefolder",
    )
    write_manifest(root, manifest)  # last: its total marks the set as complete for reuse
    return root


def _class_folders_only():
    import torchvision

    class ClassFoldersOnly(torchvision.datasets.ImageFolder):
        """ImageFolder that skips our `_meta` folder (plain ImageFolder would take it for a class)."""

        def find_classes(self, directory):
            classes = sorted(
                e.name for e in os.scandir(directory) if e.is_dir() and not e.name.startswith(("_", "."))
            )
            return classes, {c: i for i, c in enumerate(classes)}

    return ClassFoldersOnly


def _plain_loader(root: Path, out_size: int, batch_size: int, threads: int, train: bool):
    import torch
    from torchvision.transforms import v2

    from ..constants import IMAGENET_MEAN, IMAGENET_STD, eval_resize

    _ClassFoldersOnly = _class_folders_only()

    tail = [
        v2.PILToTensor(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
    if train:
        head = [v2.RandomResizedCrop(out_size, antialias=True), v2.RandomHorizontalFlip()]
    else:
        head = [v2.Resize(eval_resize(out_size), antialias=True), v2.CenterCrop(out_size)]
    dataset = _ClassFoldersOnly(str(root), transform=v2.Compose(head + tail))
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train,
        num_workers=threads,
        drop_last=train,
        persistent_workers=False,
    )


def _time_epoch(batches) -> dict[str, float]:
    """Seconds to the first batch (start-up) and images/s over the rest."""
    start = time.perf_counter()
    first = None
    images = 0
    for x, _ in batches:
        if first is None:
            first = time.perf_counter()
            continue
        images += len(x)
    end = time.perf_counter()
    steady = images / max(end - first, 1e-9)
    return {"startup_s": round(first - start, 3), "images_per_s": round(steady, 1), "images_timed": images}


def _ours(kind: str, root: Path, out_size: int, batch_size: int, threads: int, train: bool):
    from ..data import MixedSampler, MixPlan, SequentialOrder, create_loader, generated_table

    space = read_manifest(root).label_space
    table, _ = generated_table(root, space)
    order = (
        MixedSampler(MixPlan.create(len(table)), batch_size)
        if train
        else SequentialOrder(len(table), batch_size)
    )
    return create_loader(kind, [table], order, (out_size, out_size), train=train, workers=threads)


def check_parity(root: Path, out_size: int, threads: int, kinds: list[str]) -> dict[str, Any]:
    """Evaluation batches of each loader vs torchvision's Resize + CenterCrop on the same images."""
    import torch

    plain = torch.cat([x for x, _ in _plain_loader(root, out_size, 64, 0, train=False)])
    report = {}
    for kind in kinds:
        loader = _ours(kind, root, out_size, 64, threads, train=False)
        ours = torch.cat([x.float().cpu() for x, _ in loader.epoch(0)])
        loader.close()
        diff = (ours - plain).abs()
        report[kind] = {
            "mean_abs_diff": round(float(diff.mean()), 4),
            "channel_mean_diff": round(float((ours.mean((0, 2, 3)) - plain.mean((0, 2, 3))).abs().max()), 4),
        }
        # Both resize with antialiasing from the same crop; filters differ slightly (normalized units).
        if report[kind]["mean_abs_diff"] > 0.1 or report[kind]["channel_mean_diff"] > 0.03:
            raise ParityError(f"{kind} loader disagrees with torchvision preprocessing: {report[kind]}")
    return report


def bench_loader(
    n_images: int = 2000,
    size: int = 256,
    out_size: int = 224,
    batch_size: int = 64,
    threads: int | None = None,
    data_dir: str | None = None,
    kinds: tuple[str, ...] = ("torch", "dali"),
    parity_images: int = 64,
    repeats: int = 3,
    quick: bool = False,
) -> dict[str, Any]:
    """Images/s of each loader over one epoch of `n_images` JPEGs, and ratios against the plain loader.
    `quick`: 200 images of 128 px, one round (a smoke run, not a measurement)."""
    from ..data.dali_loader import dali_unavailable_reason

    if quick:
        n_images, size, out_size, batch_size, repeats = 200, 128, 112, 32, 1
    threads = threads or max(1, len(os.sched_getaffinity(0)))
    kinds = [k for k in kinds if not (k == "dali" and dali_unavailable_reason())]
    with tempfile.TemporaryDirectory(prefix="genrobust-bench-loader-") as tmp:
        root = Path(data_dir) if data_dir else Path(tmp) / "gen"
        make_generated_jpegs(root, n_images, size)
        # Smooth images for parity: resampling filters then differ by little, while a wrong crop, flip,
        # channel order or normalization still shows.
        parity_root = make_generated_jpegs(Path(tmp) / "parity", parity_images, size, seed=1, noise=0.0)
        parity = check_parity(parity_root, out_size, threads, kinds)
        # Rounds alternate the loaders so a burst of other load on the machine hits all of them; each
        # loader's best epoch is reported, and every epoch is kept in "epochs_images_per_s".
        results: dict[str, dict[str, Any]] = {}
        for _ in range(repeats):
            timed = {
                "plain_torchvision": _time_epoch(
                    _plain_loader(root, out_size, batch_size, threads, train=True)
                )
            }
            for kind in kinds:
                loader = _ours(kind, root, out_size, batch_size, threads, train=True)
                timed[{"torch": "torch_kernel", "dali": "dali"}[kind]] = _time_epoch(loader.epoch(0))
                loader.close()
            for name, t in timed.items():
                best = results.setdefault(name, {**t, "epochs_images_per_s": []})
                best["epochs_images_per_s"].append(t["images_per_s"])
                if t["images_per_s"] > best["images_per_s"]:
                    best.update(t)
    from .. import kernels

    base = results["plain_torchvision"]["images_per_s"]
    ratios = {
        f"{name}_vs_plain": round(r["images_per_s"] / base, 3)
        for name, r in results.items()
        if name != "plain_torchvision"
    }
    return {
        "benchmark": "loader",
        "images": n_images,
        "image_size": size,
        "out_size": out_size,
        "batch_size": batch_size,
        "threads": threads,
        "cpus": os.cpu_count(),
        "repeats": repeats,
        "kernels": kernels.implementation_report(),
        "parity": parity,
        "results": results,
        "ratios": ratios,
    }
