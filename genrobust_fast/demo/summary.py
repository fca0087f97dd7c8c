"""The demo's summary: per-model means with 95 % intervals over seeds, the findings' verdicts, one plot.

Written to <out>/summary.json as
    {"findings": [{"name", "claim", "verdict", "estimate", "ci95", "per_seed", "p", "p_holm", "steps",
                   "step_matched", ...}],
     "verdict_rule": "...", "effective_robustness": {<both definitions, named>}, "models": {...},
     "seeds": N, "machine": {...}, "shifts": {...}, "timings_s": {...}, "config": {...}}
and printed as one screen of text (<out>/summary.txt); the plot is <out>/report/demo_findings.png.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from .findings import (
    CLEAN,
    ER_DEFINITION,
    GENERATED,
    HELD_OUT_SHIFTS,
    KNOWN_SHIFTS,
    VERDICT_RULE,
    assess_findings,
    by_model_and_seed,
    er_table,
    mean_ci,
    mean_over,
)
from .plan import DemoConfig, Layout, model_runs, models, planned_steps
from .shift_benchmark import TEST_SHIFTS

BENCH_PREFIX = "fmnist-"


def accuracies(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """{run: {benchmark without the fmnist- prefix: top-1 %}} from the results rows."""
    acc: dict[str, dict[str, float]] = {}
    for row in rows:
        acc.setdefault(row["model"]["name"], {})[row["benchmark"].removeprefix(BENCH_PREFIX)] = row[
            "metrics"
        ]["top1"]
    return acc


def _stats(per_seed: dict[int, float]) -> dict[str, Any]:
    mean, ci = mean_ci(list(per_seed.values()))
    return {
        "mean": mean,
        "ci95": list(ci) if ci else None,
        "per_seed": {str(k): v for k, v in per_seed.items()},
    }


def recorded_steps(lay: Layout, cfg: DemoConfig) -> dict[str, int | str]:
    """Optimizer steps per model from its runs' records (run.json `total_steps`); planned_steps where no
    record exists. A model whose seeds took different counts gets their range ("72-144"), so no finding
    that compares it reads as step-matched."""
    import json

    seen: dict[str, set[int]] = {}
    for run, model, _ in model_runs(cfg):
        record = lay.run(run) / "run.json"
        if record.is_file():
            seen.setdefault(model.name, set()).add(int(json.loads(record.read_text())["total_steps"]))
    steps: dict[str, int | str] = {m.name: planned_steps(cfg, m) for m in models(cfg)}
    for name, counts in seen.items():
        steps[name] = counts.pop() if len(counts) == 1 else f"{min(counts)}-{max(counts)}"
    return steps


def model_stats(
    acc: dict[str, dict[str, float]],
    cfg: DemoConfig,
    ers: dict[str, dict[int, dict[str, float]]],
    steps: dict[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per model: accuracy and ER per benchmark as mean, 95 % interval and per-seed values."""
    table = by_model_and_seed(acc)
    out: dict[str, dict[str, Any]] = {}
    for m in models(cfg):
        model, runs = m.name, table.get(m.name)
        if not runs:
            continue
        benches = [CLEAN, *TEST_SHIFTS] + ([GENERATED] if not m.generated else [])
        er = ers.get(model, {})
        known = {s: mean_over(v, KNOWN_SHIFTS) for s, v in er.items()}
        out[model] = {
            "training_data": m.to_json(),
            "steps": (steps or {}).get(model, planned_steps(cfg, m)),
            "accuracy": {b: _stats({s: r[b] for s, r in runs.items() if b in r}) for b in benches},
            "effective_robustness": {
                sh: _stats({s: v[sh] for s, v in er.items() if sh in v}) for sh in TEST_SHIFTS
            },
            "mean_effective_robustness_known": _stats({s: v for s, v in known.items() if v is not None}),
        }
    return out


def summarize(lay: Layout, cfg: DemoConfig, timings: dict[str, float]) -> dict[str, Any]:
    from ..environment import machine_info
    from ..evaluation.results import read_results

    acc = accuracies(read_results(lay.results / "results.jsonl"))
    ers = er_table(acc, cfg)
    steps = recorded_steps(lay, cfg)
    findings = assess_findings(acc, cfg, ers, steps)
    stats = model_stats(acc, cfg, ers, steps)
    data = {
        "findings": [f.to_json() for f in findings],
        "verdict_rule": VERDICT_RULE,
        "effective_robustness": {
            "summary.json and summary.txt (per-seed lines)": ER_DEFINITION,
            "report/results.md (pooled line)": (
                "the same formula against one line fitted through every seed's real-only baseline runs "
                "(fit-baseline); it differs from the per-seed ER by the seeds' scatter around that line"
            ),
        },
        "models": stats,
        "seeds": len(cfg.seeds),
        "machine": machine_info(),
        "shifts": {
            "known_to_generator": list(KNOWN_SHIFTS),
            "held_out": list(HELD_OUT_SHIFTS),
            "drawn_by": "genrobust_fast/demo/shift_benchmark.py, not the generator's transforms (shifts.py)",
        },
        "timings_s": timings,
        "report": str(lay.report),
        "config": {
            "real_per_class": list(cfg.real_per_class),
            "mixed_real_per_class": cfg.mixed_real_per_class,
            "generated_per_class": cfg.generated_per_class,
            "amounts": list(cfg.amounts),
            "augmentations": list(cfg.augmentations),
            "batch_size": cfg.batch_size,
            "test_per_class": cfg.test_per_class,
            "seeds": list(cfg.seeds),
            "generated_sets": [g.name for g in cfg.generated_sets],
            "arch": cfg.arch,
            "epochs": cfg.epochs,
        },
    }
    plot_findings(stats, lay.fits if lay.fits.is_file() else None, lay.report / "demo_findings.png")
    return {"data": data, "text": _text(data, lay)}


def _cell(stat: dict[str, Any] | None, width: int = 11) -> str:
    if not stat or stat["mean"] is None:
        return f"{'-':>{width}}"
    mean = round(stat["mean"], 1) + 0.0  # round first so a tiny negative prints as 0.0, not -0.0
    if not stat["ci95"]:
        return f"{mean:>{width}.1f}"
    half = (stat["ci95"][1] - stat["ci95"][0]) / 2
    return f"{f'{mean:.1f}±{half:.1f}':>{width}}"


def _text(data: dict[str, Any], lay: Layout) -> str:
    columns = [CLEAN, *TEST_SHIFTS, GENERATED]
    marks = {s: "*" for s in HELD_OUT_SHIFTS}
    title = (
        "genrobust demo: Fashion-MNIST, real vs generated training data "
        f"(top-1 %, mean ± 95 % CI over {data['seeds']} seeds)"
    )
    width = 30
    header = f"{'model':<{width}}" + "".join(f"{c + marks.get(c, ''):>12}" for c in columns)
    header += f"{'ER known':>12}{'steps':>7}"
    lines = ["", "=" * len(header), title, "=" * len(header), header, "-" * len(header)]
    for name, m in data["models"].items():
        lines.append(
            f"{name:<{width}}"
            + "".join(_cell(m["accuracy"].get(c), 12) for c in columns)
            + _cell(m["mean_effective_robustness_known"], 12)
            + f"{m['steps']:>7}"
        )
    known, held_out = ", ".join(KNOWN_SHIFTS), ", ".join(HELD_OUT_SHIFTS)
    legend = (
        "Shifts are renditions of the clean test split drawn by other code than the generator's own "
        f"transforms: {known} are kinds the generator was trained on; the ones marked * ({held_out}) are "
        "kinds it never drew. 'generated' = the base generator's photos. steps = optimizer steps. "
        "ER known = mean effective robustness on the known kinds: shift accuracy minus the line through "
        "the same seed's real-only-* models (logit axes). report/results.md's ER uses one line through "
        "all seeds' real-only runs instead (pooled), so its numbers differ from these."
    )
    lines += ["", *textwrap.wrap(legend, width=100, break_on_hyphens=False), ""]
    lines.append(
        "Findings (estimate, unadjusted 95 % CI, Holm-adjusted p over all findings; verdict at 0.05):"
    )
    for f in data["findings"]:
        ci = f"[{f['ci95'][0]:+.1f}, {f['ci95'][1]:+.1f}]" if f["ci95"] else "[no interval]"
        estimate = "   -  " if f["estimate"] is None else f"{f['estimate']:+6.1f}"
        p = "   -  " if f["p_holm"] is None else f"{max(f['p_holm'], 0.001):.3f}"
        p = p.replace("0.001", "<.001") if f["p_holm"] is not None and f["p_holm"] < 0.001 else p
        lines.append(f"  {f['name']:<58} {estimate} {ci:<16} p {p:>5}  {f['verdict']}")
        counts = [str(n) for n in f["steps"].values()]
        if f["within_model"]:
            steps = f"steps {', '.join(counts)}, each model against itself"
        else:
            steps = f"steps {' vs '.join(counts)}, " + (
                "step-matched" if f["step_matched"] else "NOT step-matched"
            )
        lines += textwrap.wrap(
            f"{f['claim']} [{f['unit']}; {steps}]",
            width=100,
            initial_indent="      ",
            subsequent_indent="      ",
            break_on_hyphens=False,
        )
    plots = f"{lay.report}/plot_*.png, {lay.report / 'demo_findings.png'}"
    lines += ["", f"Full report: {lay.report / 'results.md'}  plots: {plots}"]
    timings = "Timings (s): " + ", ".join(f"{k} {v}" for k, v in data["timings_s"].items())
    lines += textwrap.wrap(timings, width=100, subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def plot_findings(stats: dict[str, dict[str, Any]], fits_path: Path | None, path: Path) -> None:
    """One panel per shift: each model's mean clean vs shift accuracy with 95 % error bars, and the line
    fitted on all real-only runs with its bootstrap band (from `fit-baseline`)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..evaluation.robustness import load_baselines
    from ..fileio import atomic_path

    fits = {f.shift.removeprefix(BENCH_PREFIX): f for f in load_baselines(fits_path)} if fits_path else {}
    fig, axes = plt.subplots(1, len(TEST_SHIFTS), figsize=(4.2 * len(TEST_SHIFTS), 4.2), dpi=100)
    for ax, shift in zip(axes, TEST_SHIFTS):
        fit = fits.get(shift)
        if fit is not None and fit.band:
            ax.fill_between(fit.band["id_top1"], fit.band["lo"], fit.band["hi"], color="tab:blue", alpha=0.15)
            ax.plot(
                fit.band["id_top1"], [fit.predict(x) for x in fit.band["id_top1"]], color="tab:blue", lw=1
            )
        for i, (name, m) in enumerate(stats.items()):
            x, y = m["accuracy"][CLEAN], m["accuracy"].get(shift)
            if x["mean"] is None or not y or y["mean"] is None:
                continue
            real_only = "generated" not in m["training_data"]
            if not real_only and m["training_data"].get("amount"):
                continue  # the amounts' models crowd the panel; they are in the table
            ax.errorbar(
                x["mean"],
                y["mean"],
                xerr=_half_width(x),
                yerr=_half_width(y),
                fmt="o" if real_only else "s",
                color="tab:blue" if real_only else f"C{1 + i % 9}",
                capsize=3,
                label=name,
            )
        ax.set_title(f"{shift}{' (held out)' if shift in HELD_OUT_SHIFTS else ''}")
        ax.set_xlabel("clean top-1 %")
        ax.set_ylabel(f"{shift} top-1 %")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, loc="best")
    fig.suptitle("mean ± 95 % CI over seeds; blue: line through the real-only runs with its bootstrap band")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def _half_width(stat: dict[str, Any]) -> float | None:
    return None if not stat["ci95"] else (stat["ci95"][1] - stat["ci95"][0]) / 2
