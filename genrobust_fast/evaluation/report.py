"""Reports from a results file: a tidy CSV, a Markdown table and shift-vs-ID plots on logit axes.

    write_report(read_results("results/results.jsonl"), "report/")            # shipped baselines
    write_report(rows, "report/", fits=load_baselines("my_fits.json"))       # user-fitted baselines

Every file is written atomically; plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
from pathlib import Path
from typing import Any

from ..fileio import atomic_path, atomic_write_text
from .robustness import BaselineFit, load_baselines, robustness_table, select_fit

logger = logging.getLogger(__name__)

CSV_COLUMNS = (
    "model",
    "benchmark",
    "top1",
    "top5",
    "top1_ci_lo",
    "top1_ci_hi",
    "ece",
    "n",
    "class_policy",
    "tta",
    "id_benchmark",
    "id_top1",
    "baseline_top1",
    "effective_robustness",
    "baseline",
    "mce",
)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table_csv(table: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rec in table:
        writer.writerow(
            {k: _fmt(rec.get(k), 4) if isinstance(rec.get(k), float) else rec.get(k) for k in CSV_COLUMNS}
        )
    return buf.getvalue()


def table_markdown(table: list[dict[str, Any]]) -> str:
    """Models x benchmarks: top-1 % with effective robustness in parentheses where a baseline applies."""
    models = list(dict.fromkeys(r["model"] for r in table))
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in table))
    cell = {(r["model"], r["benchmark"]): r for r in table}
    lines = ["| model | " + " | ".join(benchmarks) + " |", "| --- |" + " --- |" * len(benchmarks)]
    for model in models:
        cells = []
        for bench in benchmarks:
            rec = cell.get((model, bench))
            if rec is None:
                cells.append("")
                continue
            text = _fmt(rec["top1"])
            if rec["effective_robustness"] is not None:
                text += f" ({rec['effective_robustness']:+.1f})"
            cells.append(text)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    policies = sorted({f"{r['benchmark']}: {r['class_policy']}" for r in table})
    notes = [
        "",
        "Top-1 accuracy (%); in parentheses: effective robustness (points above the baseline fit).",
        f"Class policy per benchmark: {'; '.join(policies)}.",
    ]
    baselines = sorted({r["baseline"] for r in table if r["baseline"]})
    if baselines:
        notes.append("Baselines: " + "; ".join(baselines) + ".")
    return "\n".join(lines + notes) + "\n"


def _plot_shift(shift: str, records: list[dict[str, Any]], fit: BaselineFit | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    xs = np.array([r["id_top1"] for r in records]) / 100
    ys = np.array([r["top1"] for r in records]) / 100
    lo = max(min(xs.min(), ys.min()) * 0.5, 0.005)
    hi = min(1 - (1 - max(xs.max(), ys.max())) * 0.5, 0.995)
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=110)
    grid = np.linspace(lo, hi, 200)
    ax.plot(grid, grid, color="0.6", linestyle="--", linewidth=1, label="y = x")
    if fit is not None:
        ax.plot(
            grid,
            [fit.predict(100 * g) / 100 for g in grid],
            color="tab:blue",
            linewidth=1.5,
            label=f"baseline: {fit.label or fit.id_benchmark}",
        )
        if fit.band:
            bx = np.array(fit.band["id_top1"]) / 100
            ax.fill_between(
                bx,
                np.array(fit.band["lo"]) / 100,
                np.array(fit.band["hi"]) / 100,
                color="tab:blue",
                alpha=0.15,
                label=f"{int(100 * fit.band['level'])} % bootstrap band",
            )
    ax.scatter(xs, np.clip(ys, lo, hi), color="tab:red", zorder=3)
    for x, y, rec in zip(xs, ys, records):
        ax.annotate(
            rec["model"], (x, min(max(y, lo), hi)), textcoords="offset points", xytext=(4, 4), fontsize=8
        )
    ax.set_xscale("logit")
    ax.set_yscale("logit")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    pct = matplotlib.ticker.FuncFormatter(lambda v, _: f"{100 * v:g}")
    ticks = [
        t
        for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
        if lo <= t <= hi
    ]
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        axis.set_major_formatter(pct)
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(f"{records[0]['id_benchmark']} top-1 (%, logit axis)")
    ax.set_ylabel(f"{shift} top-1 (%, logit axis)")
    ax.set_title(f"{shift} vs ID accuracy")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="major", alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def plot_name(shift: str) -> str:
    """A file-name-safe, unique name: a name that had to be changed gets a hash of the original, so
    `sketch/v2` and `sketch_v2` never write one plot over the other."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in shift)
    if safe == shift:
        return safe
    return f"{safe}-{hashlib.sha256(shift.encode()).hexdigest()[:8]}"


def write_report(
    rows: list[dict[str, Any]], out: str | Path, fits: list[BaselineFit] | None = None
) -> dict[str, Any]:
    """Write results.csv, results.md and one plot_<shift>.png per shift benchmark; returns the paths."""
    out = Path(out)
    fits = load_baselines() if fits is None else fits
    table = robustness_table(rows, fits)
    written: dict[str, Any] = {"csv": out / "results.csv", "markdown": out / "results.md", "plots": []}
    atomic_write_text(written["csv"], table_csv(table))
    atomic_write_text(written["markdown"], table_markdown(table))
    for shift in dict.fromkeys(r["benchmark"] for r in table if r["id_top1"] is not None):
        records = [r for r in table if r["benchmark"] == shift and r["id_top1"] is not None]
        fit = select_fit(fits, shift, records[0]["id_benchmark"])
        if fit is not None and fit.id_benchmark != records[0]["id_benchmark"]:
            fit = None  # a line for another ID axis would mislead
        path = out / f"plot_{plot_name(shift)}.png"
        _plot_shift(shift, records, fit, path)
        written["plots"].append(path)
    missing = sorted({r["benchmark"] for r in table if r["id_benchmark"] and r["id_top1"] is None})
    if missing:
        logger.warning(
            "no ID row for %s: evaluate the same models on their ID benchmark to plot them",
            ", ".join(missing),
        )
    return {k: [str(p) for p in v] if isinstance(v, list) else str(v) for k, v in written.items()}
