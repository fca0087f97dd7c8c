"""`genrobust bench all`: every area's benchmark on the tiny model, one JSON document and a short table.

Each benchmark runs as its own `genrobust bench <area>` subprocess, so one that crashes, hangs or
leaks memory cannot take the others down; its error is recorded and the run goes on. Options are
passed only when the area's command declares them (`--quick`, `--model tiny`, `--out FILE`), which
keeps this runner independent of each benchmark's own flags.

    doc = run_all(["kernels", "unet"], quick=True, work_dir="build/bench")
    doc["benchmarks"]["kernels"]["status"] -> "ok" | "failed" | "missing" | "timeout"
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .machine import machine_info

log = logging.getLogger(__name__)

AREAS = ("kernels", "loader", "unet", "generate", "train", "scale")


def command_options(area: str) -> set[str] | None:
    """The long option names `genrobust bench <area>` accepts, or None when the command is not there."""
    import click

    from ..cli.bench import BENCHMARKS, bench

    if area not in BENCHMARKS:
        return None
    try:
        command = bench.get_command(click.Context(bench), area)
    except Exception as exc:  # noqa: BLE001 - any import error of one benchmark is recorded, not fatal
        log.warning("bench %s cannot be loaded: %s", area, exc)
        return None
    if command is None:
        return None
    return {opt for p in command.params for opt in getattr(p, "opts", []) if opt.startswith("--")}


def benchmark_argv(area: str, options: set[str], quick: bool, out_file: Path) -> list[str]:
    argv = ["bench", area]
    if quick and "--quick" in options:
        argv.append("--quick")
    if "--model" in options:
        argv += ["--model", "tiny"]
    if "--out" in options:
        argv += ["--out", str(out_file)]
    return argv


def run_one(area: str, quick: bool, work_dir: Path, timeout_s: float) -> dict[str, Any]:
    options = command_options(area)
    if options is None:
        return {"status": "missing", "error": f"`genrobust bench {area}` is not installed in this checkout"}
    out_file = work_dir / f"bench-{area}.json"
    out_file.unlink(missing_ok=True)
    argv = benchmark_argv(area, options, quick, out_file)
    record: dict[str, Any] = {"command": "genrobust " + " ".join(argv)}
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "genrobust_fast", *argv],
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
    result = _read_result(out_file, proc.stdout)
    if result is None:
        return {**record, "status": "failed", "error": "the benchmark printed no JSON result"}
    return {**record, "status": "ok", "result": result}


def _read_result(out_file: Path, stdout: str) -> Any:
    if out_file.is_file():
        return json.loads(out_file.read_text())
    start = stdout.find("{")  # the JSON document a benchmark prints, after any log lines
    while start != -1:
        try:
            return json.loads(stdout[start:])
        except json.JSONDecodeError:
            start = stdout.find("\n{", start + 1)
            start = start + 1 if start != -1 else -1
    return None


def run_all(
    areas: Iterable[str] | None = None,
    quick: bool = True,
    work_dir: str | Path = "build/bench",
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """Run the benchmarks one after another; a failure is recorded and the next one runs."""
    areas = list(areas or AREAS)
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
