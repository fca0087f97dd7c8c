"""`--dry-run`: the plan of a job without generating: shards, sizes, progress, estimated output size.

    report = plan_report(cfg, show_shard=3, limit=20)
    report["total_images"], report["shards"]["complete"], report["estimated_bytes"]

Everything comes from index arithmetic and the shard markers: an ImageNet-1k job of 1.28M images
plans in well under a second and never holds its work list in memory.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from ..genset import read_records
from .config import GenerateConfig
from .job import open_job, worker_slot

# Rough bytes per pixel when no image of the job exists yet to measure (SD-like content).
BYTES_PER_PIXEL = {"jpg": 0.35, "png": 2.0, "webp": 0.25}


def plan_report(cfg: GenerateConfig, show_shard: int | None = None, limit: int = 50) -> dict[str, Any]:
    job = open_job(cfg)
    plan = job.plan
    k, w = worker_slot(cfg)
    sizes = [plan.shard_size(s) for s in range(plan.num_shards)]
    complete = [s for s in range(plan.num_shards) if job.is_done(s)]
    done_set = set(complete)
    partial = {s: job.recorded(s) for s in range(plan.num_shards) if s not in done_set}
    partial = {s: n for s, n in partial.items() if n}
    finished = sum(sizes[s] for s in complete) + sum(partial.values())
    per_image, measured = _bytes_per_image(job, complete + list(partial))
    report: dict[str, Any] = {
        "job_id": job.job_id,
        "out": str(job.out),
        "existing_job": job.existing is not None,
        "classes": len(plan.label_space),
        "strategy": cfg.strategy,
        "total_images": plan.total,
        "images_per_class": {"min": min(plan.counts, default=0), "max": max(plan.counts, default=0)},
        "shards": {
            "count": plan.num_shards,
            "images_min": min(sizes, default=0),
            "images_max": max(sizes, default=0),
            "complete": len(complete),
            "partial": len(partial),
        },
        "worker": {
            "index": k,
            "workers": w,
            "shards": len(job.worker_shards()),
            "images_left": sum(
                sizes[s] - partial.get(s, 0) for s in job.worker_shards() if s not in done_set
            ),
        },
        "finished_images": finished,
        "remaining_images": plan.total - finished,
        "estimated_bytes": int(per_image * plan.total),
        "estimated_bytes_source": "measured from finished images" if measured else "heuristic",
    }
    if show_shard is not None:
        items = plan.shard_items(show_shard)
        report["shard_items"] = {
            "shard": show_shard,
            "images": plan.shard_size(show_shard),
            "shown": [asdict(item) for _, item in zip(range(limit), items)],
        }
    return report


def _bytes_per_image(job, shards: list[int]) -> tuple[float, bool]:
    for s in shards[:3]:  # a sample of finished records is enough for an estimate
        records = read_records(job.layout.jsonl(s))
        sizes = [r["bytes"] for r in records[:1000] if "bytes" in r]
        if sizes:
            return sum(sizes) / len(sizes), True
    h, w = job.cfg.size or _model_size(_cached_folder(job.cfg))
    return BYTES_PER_PIXEL[job.cfg.image_format] * h * w, False


def _cached_folder(cfg) -> str:
    """The folder a Hub id resolves to in the cache (a plan downloads nothing); else --model as given."""
    from ..engines.builtin import BUILTIN_MODELS
    from ..engines.hub import resolve_model
    from ..errors import GenrobustError

    try:
        source = resolve_model(cfg.model, cfg.revision, cfg.variant, cfg.cache_dir, True, BUILTIN_MODELS)
        folder = source.folder
    except GenrobustError:
        return cfg.model  # not cached: the size heuristic below applies
    return str(folder) if folder is not None else cfg.model


def _model_size(model: str) -> tuple[int, int]:
    """The model's native size without loading weights (reads unet/vae configs of a folder)."""
    from ..engines.builtin import BUILTINS

    if model in BUILTINS:
        return BUILTINS[model][2]
    from pathlib import Path

    try:
        unet = json.loads((Path(model) / "unet" / "config.json").read_text())
        vae = json.loads((Path(model) / "vae" / "config.json").read_text())
        side = unet["sample_size"] * 2 ** (len(vae["block_out_channels"]) - 1)
        return side, side
    except (OSError, KeyError, ValueError, TypeError):
        return 512, 512
