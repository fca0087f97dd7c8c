"""The paper's findings, tested on the demo's accuracies with seeds as replicates.

Each seed is one full replicate of the experiment: its real-only models (one per size) give that seed's
baseline line per shift (OLS in logit space, as `fit-baseline` fits), and its other models' effective
robustness (ER) is measured against that line. A finding's estimate is the mean over seeds of a
per-seed quantity; its 95 % interval is Student's t over the seeds, so both the training noise and the
baseline fit's noise are in it. Verdict: *reproduced* when the interval lies above 0, *not reproduced*
when it lies below, *inconclusive* when it holds 0.

    acc = {"real-only-30-s0": {"clean": 70.1, "sketch": 31.0, ...}, ...}
    for f in assess_findings(acc, cfg, er_table(acc, cfg)): print(f.name, f.verdict, f.estimate, f.ci95)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .plan import GENERATED_TEST_SET, DemoConfig, mixed_model, model_of_run, models
from .shifts import GENERATOR_RENDITIONS, HELD_OUT, TEST_SHIFTS

KNOWN_SHIFTS = tuple(s for s in TEST_SHIFTS if s in GENERATOR_RENDITIONS)
HELD_OUT_SHIFTS = tuple(s for s in TEST_SHIFTS if s in HELD_OUT)
CLEAN, GENERATED = "clean", "generated"


@dataclass(frozen=True)
class Finding:
    name: str
    claim: str
    verdict: str  # reproduced | not reproduced | inconclusive
    estimate: float | None
    ci95: tuple[float, float] | None
    per_seed: dict[int, float]
    unit: str = "points"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ci95"] = list(self.ci95) if self.ci95 else None
        data["per_seed"] = {str(k): v for k, v in self.per_seed.items()}
        return data


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float | None, tuple[float, float] | None]:
    """Mean and Student-t interval; no interval from fewer than two values."""
    from scipy import stats

    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return None, None
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, None
    half = float(
        stats.t.ppf(0.5 + level / 2, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values))
    )
    return mean, (mean - half, mean + half)


def verdict(ci: tuple[float, float] | None) -> str:
    if ci is None:
        return "inconclusive"
    if ci[0] > 0:
        return "reproduced"
    if ci[1] < 0:
        return "not reproduced"
    return "inconclusive"


def by_model_and_seed(acc: dict[str, dict[str, float]]) -> dict[str, dict[int, dict[str, float]]]:
    """{"real-only-30": {0: {"clean": ..}, 1: ..}} from the per-run accuracies."""
    out: dict[str, dict[int, dict[str, float]]] = {}
    for run, benches in acc.items():
        model, seed = model_of_run(run)
        out.setdefault(model, {})[seed] = benches
    return out


def seed_lines(
    table: dict[str, dict[int, dict[str, float]]], real_only: list[str], seed: int
) -> dict[str, tuple[float, float]]:
    """Per shift, (slope, intercept) of logit(shift) on logit(clean) over this seed's real-only models."""
    from ..errors import InputError
    from ..evaluation.robustness import fit_line

    lines = {}
    for shift in TEST_SHIFTS:
        points = [table[m][seed] for m in real_only if seed in table.get(m, {})]
        points = [p for p in points if CLEAN in p and shift in p]
        try:
            fit = fit_line([p[CLEAN] for p in points], [p[shift] for p in points], bootstrap=0)
        except InputError:
            continue  # fewer than two usable models (or one at 0/100 %): no line for this seed
        lines[shift] = (fit["slope"], fit["intercept"])
    return lines


def effective_robustness(benches: dict[str, float], line: tuple[float, float], shift: str) -> float | None:
    from ..evaluation.robustness import logit, sigmoid_percent

    clean, shifted = benches.get(CLEAN), benches.get(shift)
    if clean is None or shifted is None or not 0 < clean < 100:
        return None
    return float(shifted - sigmoid_percent(line[0] * logit(clean) + line[1]))


def er_table(acc: dict[str, dict[str, float]], cfg: DemoConfig) -> dict[str, dict[int, dict[str, float]]]:
    """ER of every model, seed and shift against its seed's real-only line."""
    table = by_model_and_seed(acc)
    real_only = [m for m, data in models(cfg) if "generated" not in data]
    out: dict[str, dict[int, dict[str, float]]] = {}
    for seed in cfg.seeds:
        lines = seed_lines(table, real_only, seed)
        for model, seeds in table.items():
            if seed not in seeds:
                continue
            ers = {s: effective_robustness(seeds[seed], lines[s], s) for s in lines}
            out.setdefault(model, {})[seed] = {s: v for s, v in ers.items() if v is not None}
    return out


def _finding(name: str, claim: str, per_seed: dict[int, float]) -> Finding:
    estimate, ci = mean_ci(list(per_seed.values()))
    return Finding(name, claim, verdict(ci), estimate, ci, per_seed)


def _per_seed(cfg: DemoConfig, values_of_seed: Callable[[int], list[float | None]]) -> dict[int, float]:
    """{seed: mean of values_of_seed(seed)} over the seeds that have any value."""
    out = {}
    for seed in cfg.seeds:
        values = [v for v in values_of_seed(seed) if v is not None]
        if values:
            out[seed] = float(np.mean(values))
    return out


def mean_over(ers: dict[str, float], shifts: tuple[str, ...]) -> float | None:
    """Mean ER over `shifts`; None unless every one has a value (a seed without a line for one shift)."""
    return float(np.mean([ers[s] for s in shifts])) if set(shifts) <= set(ers) else None


def assess_findings(
    acc: dict[str, dict[str, float]], cfg: DemoConfig, ers: dict[str, dict[int, dict[str, float]]]
) -> list[Finding]:
    """The findings from per-run accuracies and their er_table."""
    table = by_model_and_seed(acc)
    mixed = {g.name: mixed_model(cfg, g.name) for g in cfg.generated_sets}
    real_only = [m for m, data in models(cfg) if "generated" not in data]

    def seed_mean(model: str, seed: int, shifts: tuple[str, ...]) -> float | None:
        return mean_over(ers.get(model, {}).get(seed, {}), shifts)

    def mean_er(model: str, shifts: tuple[str, ...]):
        return lambda seed: [seed_mean(model, seed, shifts)]

    def er_gap(better: str, worse: str, shifts: tuple[str, ...]):
        def values(seed):
            a, b = seed_mean(better, seed, shifts), seed_mean(worse, seed, shifts)
            return [] if a is None or b is None else [a - b]

        return values

    def generated_drop(seed):
        return [
            table[m][seed][CLEAN] - table[m][seed][GENERATED]
            for m in real_only
            if seed in table.get(m, {}) and {CLEAN, GENERATED} <= set(table[m][seed])
        ]

    known = ", ".join(KNOWN_SHIFTS)
    findings = []
    if "base-templates" in mixed:
        findings.append(
            _finding(
                "a: real + generated above the real-only line",
                f"mean ER of {mixed['base-templates']} on the renditions the generator knows ({known}) > 0",
                _per_seed(cfg, mean_er(mixed["base-templates"], KNOWN_SHIFTS)),
            )
        )
    if {"base-templates", "base-labels"} <= set(mixed):
        findings.append(
            _finding(
                "a: diverse templates >= plain labels",
                f"mean ER of {mixed['base-templates']} minus that of {mixed['base-labels']} ({known}) > 0",
                _per_seed(cfg, er_gap(mixed["base-templates"], mixed["base-labels"], KNOWN_SHIFTS)),
            )
        )
    if {"base-templates", "finetuned-templates"} <= set(mixed):
        findings.append(
            _finding(
                "b: base generator > generator finetuned on the real photos",
                f"mean ER of {mixed['base-templates']} minus that of {mixed['finetuned-templates']} "
                f"({known}) > 0",
                _per_seed(cfg, er_gap(mixed["base-templates"], mixed["finetuned-templates"], KNOWN_SHIFTS)),
            )
        )
    findings.append(
        _finding(
            "c: real-only models lose accuracy on generated images",
            f"real-only models' clean accuracy minus their accuracy on the {GENERATED_TEST_SET} set > 0",
            _per_seed(cfg, generated_drop),
        )
    )
    if "base-templates" in mixed and HELD_OUT_SHIFTS:
        findings.append(
            _finding(
                "held out: a gain beyond the generator's world",
                f"ER of {mixed['base-templates']} on {', '.join(HELD_OUT_SHIFTS)}, a rendition the generator "
                "never saw, > 0",
                _per_seed(cfg, mean_er(mixed["base-templates"], HELD_OUT_SHIFTS)),
            )
        )
    return findings
