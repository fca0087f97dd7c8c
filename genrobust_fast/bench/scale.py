"""Scale checks for generation: planning 1.28M images, restarting a job, flat memory, listing.

    result = run_scale_benchmark(quick=True)

Each measurement runs in a fresh child process that reports its own wall time and peak RSS
(resource.getrusage), so one measurement's memory never hides in another's peak. An "empty run"
child imports the same modules and does nothing, the baseline for the RSS goals.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ParityError
from ..generation.config import DEFAULT_SHARD_IMAGES

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from genrobust_fast.bench.scale import child_task
extra = child_task(json.loads(sys.argv[1]))
print(json.dumps({"wall_s": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))
"""


def child_task(task: dict[str, Any]) -> dict[str, Any]:
    from ..generation.config import GenerateConfig

    kind = task.pop("kind")
    max_images = task.pop("max_images", None)
    if kind == "empty":
        import genrobust_fast.generation.dryrun  # noqa: F401  (same imports as planning)

        return {}
    cfg = GenerateConfig(**task)
    if kind == "plan":
        from ..generation.dryrun import plan_report

        report = plan_report(cfg, show_shard=cfg.shards and 0)
        return {"total_images": report["total_images"], "shards": report["shards"]["count"]}
    from ..generation.job import run_job

    summary = run_job(cfg, progress=False, max_images=max_images)
    return {"images": summary["images"]}


def _child(task: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(task)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scale child {task['kind']} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fake_finished_shards(out: Path, shards: range, num_shards: int, per_shard: int) -> None:
    """Done markers and metadata for `shards`, as a finished run leaves them (no image files needed:
    resume reads markers, never lists images)."""
    from ..genset import Layout, encode_record, write_done

    layout = Layout(out, num_shards)
    for k in shards:
        layout.jsonl(k).write_bytes(encode_record({"file": "x", "class_id": "x"}) * per_shard)
        write_done(layout.done(k), {"shard": k, "images": per_shard})


def run_scale_benchmark(quick: bool = False, listing_files: int | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="genrobust-bench-scale-"))
    try:
        result: dict[str, Any] = {"benchmark": "scale"}
        empty = _child({"kind": "empty"})
        plan = _child({"kind": "plan", "classes": "imagenet", "per_class": 1280, "out": str(tmp / "plan")})
        if plan["total_images"] != 1_280_000:
            raise ParityError(f"planned {plan['total_images']} images, expected 1,280,000")
        result["plan_1_28M"] = {
            "wall_s": round(plan["wall_s"], 3),
            "peak_rss_mb": round(plan["peak_rss_mb"], 1),
            "rss_above_empty_mb": round(plan["peak_rss_mb"] - empty["peak_rss_mb"], 1),
            "shards": plan["shards"],
        }
        result["plan_1_28M"]["goal_wall_under_5s"] = plan["wall_s"] < 5
        result["plan_1_28M"]["goal_rss_under_300mb_above_empty"] = (
            result["plan_1_28M"]["rss_above_empty_mb"] < 300
        )

        # Restart a 1.28M job with 100,000 finished images: time until the first new image is written.
        job = {
            "model": "tiny",
            "classes": "imagenet",
            "per_class": 1280,
            "steps": 2,
            "batch_size": 1,
            "backend": "torch",
            "out": str(tmp / "restart"),
        }
        _child({"kind": "restart", "max_images": 1, **job})  # writes the manifest and one image
        # Shards 1-10 of the job's plan (as many shards as the plan above made) marked finished.
        _fake_finished_shards(tmp / "restart", range(1, 11), plan["shards"], DEFAULT_SHARD_IMAGES)
        restart = _child({"kind": "restart", "max_images": 1, **job})
        if restart["images"] != 1:
            raise ParityError("the restarted job did not generate its next image")
        result["restart_100k_finished"] = {
            "time_to_first_new_image_s": round(restart["wall_s"], 3),
            "goal_under_10s": restart["wall_s"] < 10,
        }

        small, large = (50, 500) if quick else (500, 5000)
        rss = {}
        for n in (small, large):
            run = _child(
                {
                    "kind": "generate",
                    "max_images": n,
                    "model": "tiny",
                    "classes": "imagenet",
                    "per_class": n // 1000 + 1,
                    "steps": 1,
                    "batch_size": 8,
                    "guidance": 1.0,
                    "backend": "torch",
                    "shards": 1,
                    "out": str(tmp / f"gen{n}"),
                }
            )
            rss[n] = run
        result["generate_peak_rss"] = {f"{n}_images_mb": round(r["peak_rss_mb"], 1) for n, r in rss.items()}
        ratio = rss[large]["peak_rss_mb"] / rss[small]["peak_rss_mb"]
        result["generate_peak_rss"]["images"] = {str(n): r["images"] for n, r in rss.items()}
        result["generate_peak_rss"]["ratio"] = round(ratio, 3)
        result["generate_peak_rss"]["goal_ratio_le_1_1"] = ratio <= 1.1
        from .scale_listing import bench_listing

        result["listing"] = bench_listing(n_files=listing_files or (20_000 if quick else 1_280_000))
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
