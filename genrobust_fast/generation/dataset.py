"""`genrobust generate` in library form: run this worker's shards, then what a finished job gets.

summary = generate_dataset(GenerateConfig(model="tiny", classes="imagenet100", per_class=2, out="gen",
                                          dedup=True), verify_against_diffusers=4)
summary["dedup"]   -> {"images": ..., "dropped": ...}, or why it waited
summary["verify"]  -> per backend/precision pixel differences against diffusers
"""

from __future__ import annotations

from typing import Any

from .config import GenerateConfig
from .job import run_job

# Near-duplicates are judged within each class across every shard, so only a complete job is deduplicated.
DEDUP_WAITS = "skipped: not every shard is complete; rerun with --dedup once all workers finish"


def generate_dataset(
    cfg: GenerateConfig,
    *,
    progress: bool = True,
    verify: bool = False,
    verify_against_diffusers: int | None = None,
) -> dict[str, Any]:
    """`run_job`'s summary, plus `dedup` (with `cfg.dedup`: what was dropped, or `DEDUP_WAITS` while some
    worker's shards are unfinished) and `verify` (with `verify_against_diffusers=N`: N random images of
    the job regenerated with diffusers and compared)."""
    summary = run_job(cfg, progress=progress, verify=verify)
    if cfg.dedup:
        if summary["shards_complete"] == summary["num_shards"]:
            from .dedup import dedup_generated

            summary["dedup"] = dedup_generated(cfg.out, max_distance=cfg.dedup_distance)
        else:
            summary["dedup"] = DEDUP_WAITS
    if verify_against_diffusers:
        from .diffusers_parity import verify_against_diffusers as compare_with_diffusers

        summary["verify"] = compare_with_diffusers(cfg, verify_against_diffusers)
    return summary
