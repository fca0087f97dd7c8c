"""The findings and the summary, on accuracies built so that each answer is known in advance."""

import json

import numpy as np
import pytest

from genrobust_fast.demo.findings import assess_findings, er_table, mean_ci, verdict
from genrobust_fast.demo.plan import DemoConfig, Layout, models, run_name
from genrobust_fast.demo.shifts import TEST_SHIFTS
from genrobust_fast.demo.summary import summarize
from genrobust_fast.evaluation.robustness import logit, sigmoid_percent

CFG = DemoConfig(real_per_class=(30, 100, 300), mixed_real_per_class=100, seeds=(0, 1, 2))
# Per seed, each shift's real-only line: logit(shift) = slope * logit(clean) + intercept.
LINES = {
    seed: {s: (0.8 + 0.05 * seed, -0.6 - 0.1 * i) for i, s in enumerate(TEST_SHIFTS)} for seed in CFG.seeds
}
# ER built into each mixed model, per seed, on the renditions the generator knows / the held-out one.
KNOWN_ER = {
    "base-labels": [3.0, 4.0, 5.0],
    "base-templates": [9.0, 10.0, 11.0],
    "finetuned-templates": [12.0, 8.0, 13.0],
}
HELD_OUT_ER = [-5.0, -4.0, -6.0]


def on_line(clean: float, seed: int, shift: str) -> float:
    slope, intercept = LINES[seed][shift]
    return float(sigmoid_percent(slope * logit(clean) + intercept))


def accuracies() -> dict:
    acc = {}
    for seed in CFG.seeds:
        for model, data in models(CFG):
            clean = {30: 70.0, 100: 80.0, 300: 85.0}[data["real"]] + seed
            benches = {"clean": clean}
            for shift in TEST_SHIFTS:
                delta = 0.0
                if "generated" in data:
                    delta = HELD_OUT_ER[seed] if shift == "pixelated" else KNOWN_ER[data["generated"]][seed]
                benches[shift] = on_line(clean, seed, shift) + delta
            if "generated" not in data:
                benches["generated"] = clean - 15.0 - seed  # real-only models lose 15-17 points on it
            acc[run_name(model, seed)] = benches
    return acc


def test_mean_ci_is_students_t_over_the_values():
    mean, (lo, hi) = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and hi - mean == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5) and lo == 4.0 - hi
    assert mean_ci([4.0]) == (4.0, None) and mean_ci([]) == (None, None)


def test_verdicts_follow_where_the_interval_lies():
    assert verdict((0.5, 3.0)) == "reproduced"
    assert verdict((-3.0, -0.1)) == "not reproduced"
    assert verdict((-1.0, 2.0)) == "inconclusive" and verdict(None) == "inconclusive"


def test_er_is_measured_against_the_same_seeds_real_only_line():
    ers = er_table(accuracies(), CFG)
    for seed in CFG.seeds:
        assert all(abs(v) < 1e-6 for v in ers["real-only-100"][seed].values())  # on their own line
        assert ers["real-100+base-templates"][seed]["sketch"] == pytest.approx(
            KNOWN_ER["base-templates"][seed]
        )
        assert ers["real-100+base-templates"][seed]["pixelated"] == pytest.approx(HELD_OUT_ER[seed])


def test_findings_estimates_intervals_and_verdicts():
    acc = accuracies()
    found = {f.name[:12]: f for f in assess_findings(acc, CFG, er_table(acc, CFG))}
    a1, a2 = found["a: real + ge"], found["a: diverse t"]
    b, c, held = found["b: base gene"], found["c: real-only"], found["held out: a "]
    assert a1.estimate == pytest.approx(10.0) and a1.verdict == "reproduced"
    assert a1.ci95 == pytest.approx(mean_ci(KNOWN_ER["base-templates"])[1])
    assert a2.estimate == pytest.approx(6.0) and a2.verdict == "reproduced"
    # base minus finetuned per seed: -3, +2, -2 -> an interval around -1 that holds 0
    assert b.estimate == pytest.approx(-1.0) and b.verdict == "inconclusive"
    assert c.estimate == pytest.approx(16.0) and c.verdict == "reproduced"
    assert held.estimate == pytest.approx(-5.0) and held.verdict == "not reproduced"
    assert a1.per_seed == pytest.approx({0: 9.0, 1: 10.0, 2: 11.0})


def test_summary_writes_findings_models_seeds_and_machine(tmp_path):
    lay = Layout(tmp_path)
    rows = []
    for run, benches in accuracies().items():
        for bench, top1 in benches.items():
            rows.append(
                {
                    "format": "genrobust-eval/1",
                    "model": {"name": run, "weights_sha256": run},
                    "benchmark": f"fmnist-{bench}",
                    "id_benchmark": "fmnist-clean" if bench in TEST_SHIFTS else None,
                    "class_policy": "mask",
                    "tta": "none",
                    "n": 1000,
                    "metrics": {"top1": top1, "top5": 99.0, "top1_ci": [0, 100], "ece": 0.1},
                }
            )
    lay.results.mkdir(parents=True)
    (lay.results / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize(lay, CFG, {"prepare": 1.0})
    data = json.loads(json.dumps(summary["data"]))  # what summary.json holds
    assert data["seeds"] == 3 and data["machine"]["cpu_model"]
    assert [f["verdict"] for f in data["findings"]] == [
        "reproduced",
        "reproduced",
        "inconclusive",
        "reproduced",
        "not reproduced",
    ]
    for f in data["findings"]:
        assert {"name", "verdict", "estimate", "ci95"} <= set(f)
    templates = data["models"]["real-100+base-templates"]
    assert templates["mean_effective_robustness_known"]["mean"] == pytest.approx(10.0)
    assert templates["accuracy"]["clean"]["mean"] == pytest.approx(81.0)
    assert (
        "generated" not in templates["accuracy"] and "generated" in data["models"]["real-only-30"]["accuracy"]
    )
    assert (lay.report / "demo_findings.png").stat().st_size > 0
    text = summary["text"]
    assert "81.0±2.5" in text and "not reproduced" in text and "pixelated*" in text


def test_a_seed_without_a_line_for_one_shift_is_left_out_of_the_mean_over_shifts():
    acc = accuracies()
    for run, benches in acc.items():
        if run.startswith("real-only-") and run.endswith("-s2"):
            del benches["sketch"]  # seed 2 has no sketch line now
    ers = er_table(acc, CFG)
    assert "sketch" not in ers["real-100+base-templates"][2]
    found = {f.name[:12]: f for f in assess_findings(acc, CFG, er_table(acc, CFG))}
    assert found["a: real + ge"].per_seed == pytest.approx({0: 9.0, 1: 10.0})
    assert found["held out: a "].per_seed == pytest.approx(
        {0: -5.0, 1: -4.0, 2: -6.0}
    )  # pixelated has its line
