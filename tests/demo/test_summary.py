"""The one-screen summary computed from evaluation rows and a fitted baseline."""

import json

from genrobust_fast.demo.plan import DemoConfig, Layout
from genrobust_fast.demo.summary import summarize
from genrobust_fast.evaluation.robustness import logit, sigmoid_percent


def row(model, bench, top1, id_bench=None):
    return {
        "format": "genrobust-eval/1",
        "model": {"name": model, "weights_sha256": model, "num_classes": 10},
        "benchmark": bench,
        "id_benchmark": id_bench,
        "class_policy": "mask",
        "tta": "none",
        "num_scored_classes": 10,
        "n": 100,
        "metrics": {"top1": top1, "top5": 90.0, "top1_ci": [0, 100], "ece": 0.1},
    }


def test_summary_reports_accuracy_and_effective_robustness(tmp_path):
    lay = Layout(tmp_path)
    rows = []
    for model, clean, edges in (
        ("real-only-30", 60.0, 20.0),
        ("real-only-100", 80.0, 40.0),
        ("real-100+gen-labels", 80.0, 55.0),
    ):
        rows += [row(model, "fmnist-clean", clean), row(model, "fmnist-edges", edges, "fmnist-clean")]
    lay.results.mkdir(parents=True)
    (lay.results / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    slope = (logit(40.0) - logit(20.0)) / (logit(80.0) - logit(60.0))
    fit = {
        "shift": "fmnist-edges",
        "id_benchmark": "fmnist-clean",
        "class_policy": "mask",
        "label": "user fit",
        "slope": slope,
        "intercept": logit(40.0) - slope * logit(80.0),
    }
    lay.fits.write_text(json.dumps({"format": "genrobust-er-baselines/1", "version": "t", "fits": [fit]}))
    cfg = DemoConfig(out=str(tmp_path), real_per_class=(30, 100), strategies=("labels",))
    summary = summarize(lay, cfg, {"prepare": 1.0})
    models = summary["data"]["models"]
    assert list(models) == ["real-only-30", "real-only-100", "real-100+gen-labels"]
    assert abs(models["real-only-100"]["mean_effective_robustness"]) < 1e-6
    # The real+generated model has the same clean accuracy as real-only-100 and 15 points more on edges.
    assert abs(models["real-100+gen-labels"]["effective_robustness"]["edges"] - 15.0) < 1e-6
    assert abs(sigmoid_percent(slope * logit(80.0) + fit["intercept"]) - 40.0) < 1e-6  # the fixture's line
    # Both real-only models lie on the fitted line, so summarize must give them no effective robustness.
    assert abs(models["real-only-30"]["effective_robustness"]["edges"]) < 1e-6
    assert summary["data"]["baseline_fitted"] is True
    text = summary["text"]
    assert "derived" in text and "real-100+gen-labels" in text and "  15.0" in text
