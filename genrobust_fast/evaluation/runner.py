"""The evaluation loop: one model, several benchmarks, one JSON line per (model, benchmark).

    model = load_eval_model(arch="resnet50", weights="resnet50.pth")
    rows = evaluate(model, [("imagenet-val", "/data/val"), ("imagenet-r", "/data/imagenet-r")], "results/")

Images are decoded with PIL in a torch DataLoader and preprocessed as the classifier card says
(resize, centre crop, normalise). Pairs already in the results file are skipped unless redo=True.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import check_range
from ..data.decode import open_rgb
from ..devices import resolve_device
from ..errors import InputError
from ..genset import Entry, TarReader
from ..paths import refuse_output_inside_inputs
from .completeness import check_complete, summarize
from .layouts import BenchmarkData, read_benchmark
from .metrics import accuracy_block, group_accuracy, mean_corruption_error
from .models import EvalModel
from .objectnet import objectnet_labels, read_objectnet_mapping
from .registry import IMAGENET_VAL, BenchmarkSpec, get_benchmark, view_name
from .results import ROW_FORMAT, append_results, code_version, evaluated_roots, results_path
from .scoring import ScoringTask, make_task, subset_task

logger = logging.getLogger(__name__)

TTA_MODES = ("none", "flip")


@dataclass(frozen=True)
class EvalOptions:
    class_policy: str = "mask"
    batch_size: int = 64
    device: str = "auto"
    num_workers: int = 0
    tta: str = "none"  # "flip": average the logits of the image and its mirror (the paper's code did)
    force: bool = False  # evaluate partial downloads
    redo: bool = False  # re-evaluate pairs already in the results file
    border_crop: int | None = None  # None: the benchmark's default (ObjectNet: 2 px)

    def __post_init__(self) -> None:
        check_range("batch_size", self.batch_size, "[1, inf)")
        check_range("num_workers", self.num_workers, "[0, inf)", "0 decodes in the evaluating process")
        if self.border_crop is not None:
            check_range("border_crop", self.border_crop, "[0, inf)", "pixels cut from each side")


@dataclass(frozen=True)
class BenchmarkRequest:
    spec: BenchmarkSpec
    root: Path
    class_map: dict[str, str] | None = None


class ImageListDataset:
    """PIL decode + transform of files or "<tar>#<member>" entries; yields (tensor, position)."""

    def __init__(self, paths: Sequence[str], transform, border_crop: int = 0) -> None:
        self.paths = list(paths)
        self.transform = transform
        self.border_crop = border_crop
        self._tars = TarReader()  # per worker process: each shard opened on first use, kept open

    def __len__(self) -> int:
        return len(self.paths)

    def _open(self, path: str):
        entry = Entry.parse(path)
        if entry.member is not None:
            return open_rgb(self._tars.read(Path(entry.path), entry.member), path)
        return open_rgb(path, path)

    def __getitem__(self, position: int):
        img = self._open(self.paths[position])
        b = self.border_crop
        if b:
            img = img.crop((b, b, img.width - b, img.height - b))
        return self.transform(img), position


def build_transform(model: EvalModel, spec: BenchmarkSpec):
    from torchvision import transforms

    pre = model.preprocessing
    try:
        interpolation = transforms.InterpolationMode(pre.interpolation)
    except ValueError:
        raise InputError(f"unknown interpolation {pre.interpolation!r} in the classifier card") from None
    steps = [] if spec.resize == "none" else [transforms.Resize(pre.resize, interpolation=interpolation)]
    steps += [transforms.CenterCrop(pre.crop), transforms.ToTensor(), transforms.Normalize(pre.mean, pre.std)]
    return transforms.Compose(steps)


def _tasks(
    req: BenchmarkRequest, data: BenchmarkData, model: EvalModel, policy: str, objectnet_root: Path | None
) -> list[ScoringTask]:
    tasks = [
        make_task(req.spec.name, data.classes, data.members, data.targets_array, model.label_space, policy)
    ]
    if req.spec.name != IMAGENET_VAL:
        return tasks
    from ..labels import named_label_space

    for subset in req.spec.views:
        if subset == "objectnet":
            if objectnet_root is None:
                logger.info(
                    "no objectnet folder in this run: skipping view %s", view_name(IMAGENET_VAL, subset)
                )
                continue
            members, names = read_objectnet_mapping(objectnet_root), objectnet_labels(objectnet_root)
        else:
            space = named_label_space(subset.replace("-", "_"))
            members, names = {cid: (cid,) for cid in space.ids}, dict(zip(space.ids, space.names))
        tasks.append(
            subset_task(
                view_name(IMAGENET_VAL, subset),
                data.classes,
                data.targets_array,
                members,
                names,
                model.label_space,
                policy,
            )
        )
    return tasks


def _image_batches(
    dataset: ImageListDataset, key: str | None, shape: tuple[int, ...], options: EvalOptions, device
):
    """(images, positions) batches in file order: decoded by a DataLoader, or, for a set evaluated
    before in this process, from the decoded cache (`key`: None for a set too large to keep; `shape`:
    one image's preprocessed shape)."""
    import torch

    from .decoded_cache import DECODED

    cached = None if key is None else DECODED.get(key)
    if cached is not None:
        for start in range(0, len(cached), options.batch_size):
            stop = min(start + options.batch_size, len(cached))
            yield cached[start:stop], torch.arange(start, stop)
        return
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=options.batch_size,
        shuffle=False,
        num_workers=options.num_workers,
        pin_memory=device.type == "cuda",
    )
    # Copied into one tensor as they come: holding the loader's own batches would keep every worker's
    # shared-memory block (and its file descriptor) alive until the end.
    keep = None if key is None else torch.empty((len(dataset), *shape))
    for images, positions in loader:
        if keep is not None:
            keep[positions] = images
        yield images, positions
    if keep is not None:
        DECODED.put(key, keep)


def _run_model(
    model: EvalModel,
    data: BenchmarkData,
    spec: BenchmarkSpec,
    tasks: list[ScoringTask],
    options: EvalOptions,
    border_crop: int,
    device,
) -> None:
    import torch

    from .decoded_cache import DECODED, cache_key

    dataset = ImageListDataset(data.paths, build_transform(model, spec), border_crop)
    shape = (3, model.preprocessing.crop, model.preprocessing.crop)
    key = None  # too large to keep: not even worth a stat of every file
    if DECODED.fits(len(dataset) * 4 * shape[0] * shape[1] * shape[2]):  # float32
        key = cache_key(data.paths, (dataclasses.astuple(model.preprocessing), spec.resize), border_crop)
    # NHWC: the layout oneDNN's and cuDNN's convolutions are fastest in (1.8x for the demo's classifier
    # on a 2-core CPU); a model without convolutions computes the same either way.
    # The caller's model is put back in the default layout afterwards (safetensors and DeepSpeed need it).
    layout = torch.channels_last
    module = model.module.to(device, memory_format=layout).eval()
    try:
        with torch.inference_mode():
            for images, positions in _image_batches(dataset, key, shape, options, device):
                images = images.to(device, non_blocking=True, memory_format=layout)
                logits = module(images)
                if options.tta == "flip":
                    logits = (logits + module(torch.flip(images, dims=[3]))) / 2
                logits = logits.float().cpu()
                for task in tasks:
                    task.update(logits, positions.numpy())
    finally:
        module.to(memory_format=torch.contiguous_format)


def _row(
    model: EvalModel,
    req: BenchmarkRequest,
    data: BenchmarkData,
    task: ScoringTask,
    options: EvalOptions,
    border_crop: int,
    device: str,
) -> dict[str, Any]:
    out = task.outcomes()
    metrics = accuracy_block(
        out["correct1"], out["correct5"], out["confidence"], out["targets"], task.classes.ids
    )
    if data.groups is not None and task.name == req.spec.name:
        groups = [data.groups[i] for i in out["positions"]]
        metrics["by_group_top1"] = group_accuracy(out["correct1"], groups)
        if req.spec.layout == "imagenet_c":
            metrics.update(mean_corruption_error(metrics["by_group_top1"]))
    pre = dataclasses.asdict(model.preprocessing)
    pre.update(border_crop=border_crop, resize=None if req.spec.resize == "none" else pre["resize"])
    is_view = task.name != req.spec.name
    return {
        "format": ROW_FORMAT,
        "model": model.describe(),
        "benchmark": task.name,
        "base_benchmark": req.spec.name,
        "id_benchmark": None if is_view else req.spec.id_benchmark,
        "n": int(out["correct1"].size),
        "class_policy": task.policy,
        "num_scored_classes": task.num_scored_classes,
        "tta": options.tta,
        "preprocessing": pre,
        "dataset": {k: v for k, v in summarize(data).items() if k != "benchmark"},
        "metrics": metrics,
        "code_version": code_version(),
        "device": device,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _wanted_names(req: BenchmarkRequest, objectnet_root: Path | None) -> list[str]:
    names = [req.spec.name]
    if req.spec.name == IMAGENET_VAL:
        names += [view_name(IMAGENET_VAL, s) for s in req.spec.views if s != "objectnet" or objectnet_root]
    return names


def _refuse_repeated_names(requests: Sequence[BenchmarkRequest]) -> None:
    """Rows are keyed by benchmark name: a second folder under one name would replace the first's row."""
    roots: dict[str, Path] = {}
    for req in requests:
        if req.spec.name in roots:
            raise InputError(
                f"--benchmark {req.spec.name} is given twice ({str(roots[req.spec.name])!r} and "
                f"{str(req.root)!r}); give each name once, or evaluate the other folder into another --out"
            )
        roots[req.spec.name] = req.root


def evaluate(
    model: EvalModel,
    benchmarks: Sequence[BenchmarkRequest | tuple],
    out: str | Path,
    options: EvalOptions = EvalOptions(),
) -> list[dict[str, Any]]:
    """Evaluate `model` on each benchmark; append rows to <out>/results.jsonl and return the new rows."""
    if options.tta not in TTA_MODES:
        raise InputError(f"tta {options.tta!r} is not one of {', '.join(TTA_MODES)}")
    requests = [
        b
        if isinstance(b, BenchmarkRequest)
        else BenchmarkRequest(get_benchmark(b[0]) if isinstance(b[0], str) else b[0], Path(b[1]))
        for b in benchmarks
    ]
    _refuse_repeated_names(requests)
    # A results folder inside a benchmark becomes one of its class folders at the next run.
    folder = Path(out).parent if Path(out).suffix == ".jsonl" else Path(out)
    refuse_output_inside_inputs(folder, {f"--benchmark {r.spec.name}": r.root for r in requests})
    objectnet_root = next((r.root for r in requests if r.spec.layout == "objectnet"), None)
    device = resolve_device(options.device)  # before reading any folder: a wrong --device fails at once
    path = results_path(out)
    done = evaluated_roots(path)
    # Read and check every folder before the first forward pass: a partial download fails fast.
    plans = []
    for req in requests:
        keys = {
            (model.weights_sha256, name, options.class_policy, options.tta)
            for name in _wanted_names(req, objectnet_root)
        }
        root = str(Path(req.root).resolve())
        if not options.redo and all(done.get(key, "") == root for key in keys):
            logger.info("skipping %s: already in %s (pass redo to re-evaluate)", req.spec.name, path)
            continue
        data = read_benchmark(req.spec, req.root, req.class_map)
        check_complete(data, options.force)
        plans.append((req, data))
    new_rows = []
    for req, data in plans:
        border = req.spec.border_crop if options.border_crop is None else options.border_crop
        tasks = _tasks(req, data, model, options.class_policy, objectnet_root)
        logger.info("evaluating %s on %s (%d images)", model.name, req.spec.name, len(data))
        _run_model(model, data, req.spec, tasks, options, border, device)
        # A class-restricted view with no images (val folders lacking those classes) has nothing to report.
        rows = [
            _row(model, req, data, task, options, border, str(device))
            for task in tasks
            if task.name == req.spec.name or task.positions
        ]
        append_results(path, rows)  # after each benchmark, so a long run keeps what it finished
        new_rows += rows
    return new_rows
