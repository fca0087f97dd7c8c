"""The paper's findings, tested on the demo's accuracies with seeds as replicates.

Each seed is one full replicate of the experiment: its real-only models of the baseline (one per size)
give that seed's line per shift (OLS in logit space, as `fit-baseline` fits), and its other models'
effective robustness (ER) is measured against that line. A finding's estimate is the mean over seeds of
a per-seed quantity, its 95 % interval Student's t over the seeds (so the training noise and the
baseline fit's noise are both in it).

The rules, fixed here before any run: every finding states a claim "quantity > 0". Its p-value is the
two-sided one-sample t-test of the per-seed values against 0, and the p-values of all findings are
Holm-adjusted together (family-wise error 5 %). Verdict: *reproduced* when the adjusted p < 0.05 and
the estimate > 0, *not reproduced* when the adjusted p < 0.05 and the estimate < 0, *inconclusive*
otherwise. The intervals shown are the unadjusted 95 % intervals: one can exclude 0 while the verdict,
corrected for the number of findings, is inconclusive.

Every comparison is between models given the same number of optimizer steps: the mixed models (ratio 1,
an epoch twice as long) against the real-only twin and the augmentation controls trained twice the
epochs. Each finding lists the step counts of the models it compares and whether they match.

    acc = {"real-only-30-s0": {"clean": 70.1, "sketch": 31.0, ...}, ...}
    for f in assess_findings(acc, cfg, er_table(acc, cfg)): print(f.name, f.verdict, f.estimate, f.ci95)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .plan import (
    GENERATED_TEST_SET,
    MAIN_SET,
    DemoConfig,
    amount_model,
    mixed_model,
    model_of_run,
    models,
    planned_steps,
    step_matched_model,
)
from .shift_benchmark import HELD_OUT, KNOWN, TEST_SHIFTS

KNOWN_SHIFTS, HELD_OUT_SHIFTS = KNOWN, HELD_OUT
CLEAN, GENERATED = "clean", "generated"
ALPHA = 0.05  # family-wise, across all findings (Holm)
VERDICT_RULE = (
    "two-sided one-sample t-test of the per-seed values against 0, p-values Holm-adjusted across all "
    f"findings; reproduced: adjusted p < {ALPHA} and estimate > 0; not reproduced: adjusted p < {ALPHA} "
    "and estimate < 0; inconclusive otherwise"
)
ER_DEFINITION = (
    "shift top-1 minus 100*sigmoid(a*logit(clean top-1) + b), (a, b) the OLS line in logit space "
    "through the same seed's real-only baseline models (one line per seed and shift)"
)


@dataclass(frozen=True)
class Finding:
    name: str
    claim: str
    verdict: str  # reproduced | not reproduced | inconclusive
    estimate: float | None
    ci95: tuple[float, float] | None
    per_seed: dict[int, float]
    p: float | None = None  # unadjusted two-sided t-test p-value
    p_holm: float | None = None
    steps: dict[str, int] = field(default_factory=dict)  # optimizer steps of each model compared
    unit: str = "points"
    within_model: bool = False  # each model against itself (two test sets), not models against models

    @property
    def step_matched(self) -> bool:
        return self.within_model or len(set(self.steps.values())) <= 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ci95"] = list(self.ci95) if self.ci95 else None
        data["per_seed"] = {str(k): v for k, v in self.per_seed.items()}
        data["step_matched"] = self.step_matched
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


def t_test_p(values: list[float]) -> float | None:
    """Two-sided one-sample t-test against 0; None from fewer than two values, or from values that do not
    vary (the t statistic is undefined: identical seeds, e.g. accuracies on a small test set that moved
    by the same step, are not evidence of anything at any p)."""
    from scipy import stats

    values = [v for v in values if v is not None and np.isfinite(v)]
    if len(values) < 2:
        return None
    if np.std(values) == 0:
        return None
    return float(stats.ttest_1samp(values, 0.0).pvalue)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (monotone, capped at 1); None stays None and is not counted."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(estimate: float | None, p_adjusted: float | None, alpha: float = ALPHA) -> str:
    if estimate is None or p_adjusted is None or p_adjusted >= alpha or estimate == 0:
        return "inconclusive"
    return "reproduced" if estimate > 0 else "not reproduced"


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
    real_only = [m.name for m in models(cfg) if m.on_line]
    out: dict[str, dict[int, dict[str, float]]] = {}
    for seed in cfg.seeds:
        lines = seed_lines(table, real_only, seed)
        for model, seeds in table.items():
            if seed not in seeds:
                continue
            ers = {s: effective_robustness(seeds[seed], lines[s], s) for s in lines}
            out.setdefault(model, {})[seed] = {s: v for s, v in ers.items() if v is not None}
    return out


def mean_over(values: dict[str, float], shifts: tuple[str, ...]) -> float | None:
    """Mean over `shifts`; None unless every one has a value (a seed without a line for one shift)."""
    return float(np.mean([values[s] for s in shifts])) if set(shifts) <= set(values) else None


PerSeed = Callable[[int], "float | None"]


def assess_findings(
    acc: dict[str, dict[str, float]],
    cfg: DemoConfig,
    ers: dict[str, dict[int, dict[str, float]]],
    steps: dict[str, int] | None = None,
) -> list[Finding]:
    """The findings from per-run accuracies and their er_table, Holm-adjusted together. `steps`: the
    optimizer steps each model took (its runs' records); planned_steps where a model is missing."""
    table = by_model_and_seed(acc)
    known_steps = {m.name: planned_steps(cfg, m) for m in models(cfg)} | (steps or {})
    names = {m.name for m in models(cfg)}
    main = mixed_model(cfg, MAIN_SET)
    labels, finetuned = mixed_model(cfg, "base-labels"), mixed_model(cfg, "finetuned-templates")
    twin = step_matched_model(cfg)
    augments = [m.name for m in models(cfg) if m.augment]
    line_models = [m.name for m in models(cfg) if m.on_line]

    def er(model: str, shifts: tuple[str, ...]) -> PerSeed:
        return lambda seed: mean_over(ers.get(model, {}).get(seed, {}), shifts)

    def acc_of(model: str, shifts: tuple[str, ...]) -> PerSeed:
        return lambda seed: mean_over(table.get(model, {}).get(seed, {}), shifts)

    def gap(a: PerSeed, b: PerSeed) -> PerSeed:
        def value(seed):
            x, y = a(seed), b(seed)
            return None if x is None or y is None else x - y

        return value

    def best_of(candidates: list[str], metric: Callable[[str], PerSeed]) -> str | None:
        """The candidate with the highest mean over seeds (a rule that favours the control)."""
        values = {c: [v for s in cfg.seeds if (v := metric(c)(s)) is not None] for c in candidates}
        means = {c: float(np.mean(v)) for c, v in values.items() if v}
        return max(means, key=means.get) if means else None

    def generated_drop(seed):
        drops = [
            table[m][seed][CLEAN] - table[m][seed][GENERATED]
            for m in line_models
            if seed in table.get(m, {}) and {CLEAN, GENERATED} <= set(table[m][seed])
        ]
        return float(np.mean(drops)) if drops else None

    def amount_slope(seed):
        """OLS slope of mean known-shift ER on log2(generated images per class); None unless the seed
        has every amount."""
        points = [(np.log2(n), er(amount_model(cfg, n), KNOWN_SHIFTS)(seed)) for n in sorted(cfg.amounts)]
        if any(y is None for _, y in points):
            return None
        return float(np.polyfit([x for x, _ in points], [y for _, y in points], 1)[0])

    known, held = ", ".join(KNOWN_SHIFTS), ", ".join(HELD_OUT_SHIFTS)
    # name, claim, per seed, models compared, unit, whether each model is compared with itself
    specs: list[tuple[str, str, PerSeed, list[str], str, bool]] = []

    def add(name, claim, of_seed: PerSeed, compared: list[str], unit="points", within_model=False) -> None:
        if set(compared) <= names:
            specs.append((name, claim, of_seed, compared, unit, within_model))

    add(
        "a: real + generated above the real-only line",
        f"ER of {main} minus that of {twin} (same steps, real only), mean over {known} > 0",
        gap(er(main, KNOWN_SHIFTS), er(twin, KNOWN_SHIFTS)),
        [main, twin],
    )
    add(
        "a: diverse templates >= plain labels",
        f"ER of {main} minus that of {labels}, mean over {known} > 0",
        gap(er(main, KNOWN_SHIFTS), er(labels, KNOWN_SHIFTS)),
        [main, labels],
    )
    add(
        "b: base generator > generator finetuned on the real photos",
        f"ER of {main} minus that of {finetuned}, mean over {known} > 0",
        gap(er(main, KNOWN_SHIFTS), er(finetuned, KNOWN_SHIFTS)),
        [main, finetuned],
    )
    add(
        "c: real-only models lose accuracy on generated images",
        f"each model's clean top-1 minus its top-1 on the {GENERATED_TEST_SET} set, mean over "
        f"{', '.join(line_models)} > 0",
        generated_drop,
        line_models,
        within_model=True,
    )
    for metric, value in (("ER", er), ("accuracy", acc_of)) if augments else ():
        # Without values (no line in any seed), the finding stays, inconclusive, against the first.
        best = best_of(augments, lambda m, value=value: value(m, KNOWN_SHIFTS)) or augments[0]
        add(
            f"d: augment: real + generated > best augmentation, {metric}",
            f"{'ER' if metric == 'ER' else 'top-1'} of {main} minus that of {best} (the better of "
            f"{', '.join(augments)} by its mean), mean over {known} > 0",
            gap(value(main, KNOWN_SHIFTS), value(best, KNOWN_SHIFTS)),
            [main, best],
        )
    add(
        "e: amount: more generated data, more ER",
        f"slope of {main}'s ER (mean over {known}) on log2 of its generated images per class "
        f"({', '.join(str(n) for n in sorted(cfg.amounts))}) > 0",
        amount_slope,
        [amount_model(cfg, n) for n in sorted(cfg.amounts)],
        unit="points per doubling",
    )
    add(
        "f: accuracy: real + generated >= real only, clean",
        f"clean top-1 of {main} minus that of {twin} (same real images, same steps) > 0",
        gap(acc_of(main, (CLEAN,)), acc_of(twin, (CLEAN,))),
        [main, twin],
    )
    if HELD_OUT_SHIFTS:
        add(
            "held out: rendition prompts help on kinds never drawn",
            f"ER of {main} minus that of {labels}, mean over {held} (kinds the generator never drew) > 0",
            gap(er(main, HELD_OUT_SHIFTS), er(labels, HELD_OUT_SHIFTS)),
            [main, labels],
        )

    findings = []
    for name, claim, of_seed, compared, unit, within_model in specs:
        per_seed = {s: v for s in cfg.seeds if (v := of_seed(s)) is not None}
        estimate, ci = mean_ci(list(per_seed.values()))
        p = t_test_p(list(per_seed.values()))
        findings.append(
            Finding(
                name,
                claim,
                "inconclusive",
                estimate,
                ci,
                per_seed,
                p=p,
                steps={m: known_steps[m] for m in compared},
                unit=unit,
                within_model=within_model,
            )
        )
    adjusted = holm([f.p for f in findings])
    return [
        replace(f, p_holm=q, verdict=verdict(f.estimate, q)) for f, q in zip(findings, adjusted, strict=True)
    ]
