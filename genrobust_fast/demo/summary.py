"""The demo's one-screen summary, computed from the evaluation results and the fitted baseline."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from .plan import DemoConfig, Layout, model_runs
from .shifts import DERIVED_SHIFTS


def summarize(lay: Layout, cfg: DemoConfig, timings: dict[str, float]) -> dict[str, Any]:
    from ..evaluation.results import read_results
    from ..evaluation.robustness import load_baselines, robustness_table

    rows = read_results(lay.results / "results.jsonl")
    fits = load_baselines(lay.fits) if lay.fits.is_file() else []
    table = robustness_table(rows, fits)
    models: dict[str, dict[str, Any]] = {}
    for rec in table:
        entry = models.setdefault(rec["model"], {"accuracy": {}, "effective_robustness": {}})
        bench = rec["benchmark"].removeprefix("fmnist-")
        entry["accuracy"][bench] = rec["top1"]
        if rec["effective_robustness"] is not None:
            entry["effective_robustness"][bench] = rec["effective_robustness"]
    for entry in models.values():
        shifted = [entry["accuracy"][s] for s in DERIVED_SHIFTS if s in entry["accuracy"]]
        ers = list(entry["effective_robustness"].values())
        entry["mean_shift_accuracy"] = float(np.mean(shifted)) if shifted else None
        entry["mean_effective_robustness"] = float(np.mean(ers)) if ers else None
    order = [name for name, _ in model_runs(cfg) if name in models]
    data = {
        "models": {m: models[m] for m in order},
        "timings_s": timings,
        "report": str(lay.report),
        "baseline_fitted": bool(fits),
        "config": {
            "real_per_class": list(cfg.real_per_class),
            "mixed_real_per_class": cfg.mixed_real_per_class,
            "generated_per_class": cfg.generated_per_class,
            "test_per_class": cfg.test_per_class,
            "strategies": list(cfg.strategies),
            "arch": cfg.arch,
        },
    }
    return {"data": data, "text": _text(data, order, lay)}


def _fmt(value) -> str:
    # round first so a tiny negative prints as 0.0, not -0.0
    return "   -  " if value is None else f"{round(value, 1) + 0.0:6.1f}"


def _text(data: dict[str, Any], order: list[str], lay: Layout) -> str:
    shifts = list(DERIVED_SHIFTS)
    lines = [
        "",
        "=" * 78,
        "genrobust demo: Fashion-MNIST, real vs generated training data (top-1 %)",
        "=" * 78,
    ]
    header = f"{'model':<26}{'clean':>7}" + "".join(f"{s[:10]:>11}" for s in shifts) + f"{'mean ER':>9}"
    lines += [header, "-" * len(header)]
    for name in order:
        m = data["models"][name]
        acc = m["accuracy"]
        lines.append(
            f"{name:<26}{_fmt(acc.get('clean')):>7}"
            + "".join(f"{_fmt(acc.get(s)):>11}" for s in shifts)
            + f"{_fmt(m['mean_effective_robustness']):>9}"
        )
    lines += [
        "",
        (
            "Shifts are *derived* from the clean test split (edge maps, inverted contrast, blur+noise, "
            "occlusion);"
        ),
        "they are not real benchmarks. ER = shift accuracy minus the line fitted on the real-only models",
        "(logit axes), so the real-only models sit near 0 by construction."
        if data["baseline_fitted"]
        else (
            "(logit axes); here no line could be fitted "
            "(the real-only models scored alike on the clean split)."
        ),
        f"Full report: {lay.report / 'results.md'}  plots: {lay.report}/plot_*.png",
    ]
    timings = "Timings (s): " + ", ".join(f"{k} {v}" for k, v in data["timings_s"].items())
    lines += textwrap.wrap(timings, width=102, subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines) + "\n"
