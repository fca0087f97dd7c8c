"""`genrobust bench all`: every area's benchmark on the tiny model, one JSON document and a short table.

Each benchmark runs in its own Python process, so one that crashes, hangs or leaks memory cannot take
the others down; its error is recorded and the run goes on. The process calls the area's library
function with its own defaults and `quick` (the same as `genrobust bench <area> [--quick]`) and writes
the result, machine included, to a JSON file that this process reads back.

    doc = run_all(["kernels", "unet"], quick=True, work_dir="build/bench")
    doc["benchmarks"]["kernels"]["status"] -> "ok" | "failed" | "timeout"
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..environment import machine_info
from .machine import record_result

log = logging.getLogger(__name__)

# area -> the library function "module:function" that runs it; each takes `quick` and defaults the rest.
BENCHMARKS = {
    "kernels": "genrobust_fast.bench.kernels:run_kernel_benchmarks",
    "loader": "genrobust_fast.bench.loader:bench_loader",
    "unet": "genrobust_fast.bench.unet:run_unet_benchmark",
    "generate": "genrobust_fast.bench.generate:run_generate_benchmark",
    "train": "genrobust_fast.bench.train:bench_train",
    "scale": "genrobust_fast.bench.scale:run_scale_benchmark",
}
AREAS = tuple(BENCHMARKS)


def run_here(target: str, quick: bool, out_file: str) -> None:
    """Call the benchmark function `target` ("module:function") in this process and write its result."""
    module, name = target.split(":")
    benchmark = getattr(importlib.import_module(module), name)
    record_result(benchmark(quick=quick), out_file)


def run_one(area: str, quick: bool, work_dir: Path, timeout_s: float) -> dict[str, Any]:
    out_file = work_dir / f"bench-{area}.json"
    out_file.unlink(missing_ok=True)
    # The command a user would type for the same run (the CLI's defaults are the functions' defaults).
    record: dict[str, Any] = {"command": f"genrobust bench {area}" + (" --quick" if quick else "")}
    code = f"from {__name__} import run_here; run_here({BENCHMARKS[area]!r}, {quick!r}, {str(out_file)!r})"
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
            env=dict(os.environ, HF_HUB_OFFLINE="1"),
        )
    except subprocess.TimeoutExpired:
        return {
            **record,
            "status": "timeout",
            "error": f"no result after {timeout_s:.0f} s",
            "wall_s": round(time.perf_counter() - started, 1),
        }
    record["wall_s"] = round(time.perf_counter() - started, 1)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {**record, "status": "failed", "returncode": proc.returncode, "error": "\n".join(tail)}
    if not out_file.is_file():
        return {**record, "status": "failed", "error": "the benchmark wrote no JSON result"}
    return {**record, "status": "ok", "result": json.loads(out_file.read_text())}


def run_all(
    areas: Iterable[str] | None = None,
    quick: bool = True,
    work_dir: str | Path = "build/bench",
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """Run the benchmarks one after another; a failure is recorded and the next one runs."""
    areas = list(areas or BENCHMARKS)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "format": "genrobust-bench-all/1",
        "quick": quick,
        "model": "tiny",
        "machine": machine_info(),
        "benchmarks": {},
    }
    for area in areas:
        log.info("bench %s ...", area)
        doc["benchmarks"][area] = run_one(area, quick, work, timeout_s)
    return doc


def headline_figures(result: Any, limit: int = 3) -> list[tuple[str, Any]]:
    """The first few numbers under a key naming a ratio or speedup, for the table (the JSON has all)."""
    found: list[tuple[str, Any]] = []

    def walk(value: Any, path: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        # a ratio leaf (`ratio_vs_plain`) or any number inside a `ratios` / `speedups` mapping
        elif (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and any("ratio" in part or "speedup" in part for part in path.lower().split("."))
        ):
            found.append((path, value))

    walk(result, "")
    return found


def summary_table(doc: dict[str, Any]) -> str:
    lines = [
        f"{'benchmark':<10} {'status':<8} {'wall s':>7}  headline figures (ratios vs the plain alternative)"
    ]
    for area, rec in doc["benchmarks"].items():
        if rec["status"] == "ok":
            figures = (
                ", ".join(
                    f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in headline_figures(rec["result"])
                )
                or "(see JSON)"
            )
        else:
            figures = rec.get("error", "").splitlines()[-1][:90] if rec.get("error") else ""
        lines.append(f"{area:<10} {rec['status']:<8} {rec.get('wall_s', 0):>7}  {figures}")
    return "\n".join(lines)
