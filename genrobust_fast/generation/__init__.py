"""Generated datasets: prompts and strategies, the denoising pipeline, sharded resumable jobs, writers.

    from genrobust_fast.generation import GenerateConfig, generate_dataset, plan_report
    generate_dataset(GenerateConfig(model="tiny", classes="imagenet100", per_class=2, steps=20, out="gen"))

Public names are imported on first use (torch and diffusers load only when generation runs).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GenerateConfig": "config",
    "job_id": "config",
    "Plan": "worklist",
    "WorkItem": "worklist",
    "build_plan": "worklist",
    "derive_seed": "worklist",
    "GenerationPipeline": "pipeline",
    "Request": "pipeline",
    "create_scheduler": "schedulers",
    "run_job": "job",
    "generate_dataset": "dataset",
    "open_job": "job",
    "plan_report": "dryrun",
    "dedup_generated": "dedup",
    "audit_generated": "dedup",
    "verify_against_diffusers": "verify",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
