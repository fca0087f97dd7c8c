import math

import numpy as np
import pytest
import torch

from genrobust_fast.errors import InputError
from genrobust_fast.evaluation.metrics import (
    clopper_pearson,
    expected_calibration_error,
    mean_corruption_error,
)
from genrobust_fast.evaluation.robustness import (
    effective_robustness,
    fit_baselines,
    fit_line,
    load_baselines,
    select_fit,
)
from genrobust_fast.evaluation.scoring import make_task
from genrobust_fast.labels import LabelSpace


# Values computed by hand: logit(p) = ln(p/(1-p)); baseline = 100 / (1 + exp(-(a*logit + b))).
#   V2:  logit(.7613) = 1.15983; 0.9232*1.15983 - 0.4977 = 0.57305; sigmoid -> 63.9466
#   R:   logit(.90) = 2.19722; 0.6368*2.19722 - 2.1077 = -0.70848; sigmoid -> 32.9929
#   A:   ID 80 uses the lower piece -> 1.50045; ID 95 the upper piece -> 17.1698
@pytest.mark.parametrize(
    "shift,id_axis,id_acc,shift_acc,expected",
    [
        ("imagenet-v2", "imagenet-val", 76.13, 63.0, 63.0 - 63.9466),
        ("imagenet-r", "imagenet-val[imagenet-r]", 90.0, 40.0, 40.0 - 32.9929),
        ("imagenet-a", "imagenet-val[imagenet-a]", 80.0, 3.0, 3.0 - 1.50045),
        ("imagenet-a", "imagenet-val[imagenet-a]", 95.0, 30.0, 30.0 - 17.1698),
    ],
)
def test_effective_robustness_matches_hand_computed_values(shift, id_axis, id_acc, shift_acc, expected):
    fit = select_fit(load_baselines(), shift, id_axis)
    assert fit.id_benchmark == id_axis
    assert effective_robustness(shift_acc, id_acc, fit) == pytest.approx(expected, abs=1e-3)


def test_shipped_fits_carry_provenance_and_pick_the_class_restricted_axis_for_r():
    fits = load_baselines()
    assert select_fit(fits, "imagenet-r").id_benchmark == "imagenet-val[imagenet-r]"
    assert select_fit(fits, "imagenet-r", "imagenet-val").pieces[0].slope == 0.9116
    assert select_fit(fits, "objectnet").pieces[0].intercept == -1.9283
    assert all(f.source.startswith("shipped:") for f in fits)


def test_fit_line_recovers_an_exact_logit_line_and_its_band_contains_it():
    ids = np.array([55.0, 62.0, 70.0, 76.0, 81.0])
    shift = 100 / (1 + np.exp(-(0.8 * np.log(ids / (100 - ids)) - 0.5)))
    fit = fit_line(ids, shift, bootstrap=50)
    assert fit["slope"] == pytest.approx(0.8, abs=1e-9)
    assert fit["intercept"] == pytest.approx(-0.5, abs=1e-9)
    band = fit["band"]
    assert len(band["id_top1"]) == len(band["lo"]) == len(band["hi"])
    assert all(lo <= hi + 1e-9 for lo, hi in zip(band["lo"], band["hi"]))


def test_fit_line_needs_two_distinct_models():
    with pytest.raises(InputError, match="at least 2"):
        fit_line([70.0], [60.0])


def _row(model, bench, top1, id_benchmark=None, sha=None):
    return {
        "model": {"name": model, "weights_sha256": sha or model, "num_classes": 10},
        "benchmark": bench,
        "class_policy": "mask",
        "tta": "none",
        "id_benchmark": id_benchmark,
        "num_scored_classes": 10,
        "n": 100,
        "metrics": {"top1": top1, "top5": 99.0, "top1_ci": [0, 100], "ece": 1.0},
    }


def test_user_fit_for_custom_benchmark_names_drives_er():
    rows = []
    for name, id_acc in (("real-a", 80.0), ("real-b", 85.0), ("real-c", 90.0)):
        shift = 100 / (1 + math.exp(-(1.0 * math.log(id_acc / (100 - id_acc)) - 1.0)))
        rows += [_row(name, "fmnist-test", id_acc), _row(name, "fmnist-blur", shift, "fmnist-test")]
    rows += [_row("mixed", "fmnist-test", 85.0), _row("mixed", "fmnist-blur", 80.0, "fmnist-test")]
    doc = fit_baselines(rows, ["real-*"], bootstrap=20)
    (fit,) = doc["fits"]
    assert (fit["shift"], fit["id_benchmark"], fit["models"]) == (
        "fmnist-blur",
        "fmnist-test",
        ["real-a", "real-b", "real-c"],
    )
    assert fit["slope"] == pytest.approx(1.0) and fit["intercept"] == pytest.approx(-1.0)
    from genrobust_fast.evaluation.robustness import _fit_from_json, robustness_table

    table = robustness_table(rows, [_fit_from_json(fit, "user")])
    mixed = next(r for r in table if r["model"] == "mixed" and r["benchmark"] == "fmnist-blur")
    # baseline at 85 %: logit 1.734601 - 1 = 0.734601 -> 67.5810 %; ER = 80 - 67.5810
    assert mixed["effective_robustness"] == pytest.approx(80.0 - 67.5810, abs=1e-3)


def test_clopper_pearson_closed_forms():
    # Zero successes: upper = 1 - (alpha/2)^(1/n); all successes: lower = (alpha/2)^(1/n).
    lo, hi = clopper_pearson(0, 10, alpha=0.005)
    assert lo == 0.0 and hi == pytest.approx(100 * (1 - 0.0025**0.1))
    lo, hi = clopper_pearson(10, 10, alpha=0.005)
    assert hi == 100.0 and lo == pytest.approx(100 * 0.0025**0.1)
    lo, hi = clopper_pearson(50, 100)
    assert lo < 50 < hi and hi - lo == pytest.approx(2 * (50 - lo))


def test_ece_by_hand():
    # Bins of width 1/15: 0.95 and 0.99 share the last bin (acc 0.5, conf 0.97) -> |0.5-0.97| * 2/4;
    # 0.3 is alone (correct) -> |1-0.3| * 1/4; 0.5 alone (wrong) -> |0-0.5| * 1/4.
    conf = np.array([0.95, 0.99, 0.3, 0.5])
    correct = np.array([1, 0, 1, 0])
    expected = 100 * (0.47 * 0.5 + 0.7 * 0.25 + 0.5 * 0.25)
    assert expected_calibration_error(conf, correct) == pytest.approx(expected)


def test_mce_normalises_by_alexnet():
    groups = {f"gaussian_noise/{s}": 100 * (1 - 0.886428) for s in range(1, 6)}
    groups.update({f"fog/{s}": 100 * (1 - 0.819324 / 2) for s in range(1, 6)})
    out = mean_corruption_error(groups)
    assert out["corruption_error"]["gaussian_noise"] == pytest.approx(100.0)
    assert out["corruption_error"]["fog"] == pytest.approx(50.0)
    assert out["mce"] == pytest.approx(75.0)
    assert not out["mce_complete"] and "snow" in out["mce_missing"]


def test_mask_and_full_policies_on_crafted_logits():
    model = LabelSpace.from_ids([f"c{i}" for i in range(6)])
    # Benchmark with 2 classes: A = {c1, c2} (several members, like ObjectNet), B = {c4}.
    classes = LabelSpace.from_ids(["A", "B"])
    members = [("c1", "c2"), ("c4",)]
    logits = torch.tensor(
        [
            [9.0, 1.0, 3.0, 0.0, 2.0, 0.0],  # c0 wins overall; among members c2 (class A) wins
            [0.0, 0.0, 0.0, 0.0, 5.0, 1.0],  # c4 (class B)
        ]
    )
    targets = np.array([0, 0])
    mask = make_task("t", classes, members, targets, model, "mask")
    full = make_task("t", classes, members, targets, model, "full")
    for task in (mask, full):
        task.update(logits, np.array([0, 1]))
    assert mask.outcomes()["correct1"].tolist() == [True, False]
    assert full.outcomes()["correct1"].tolist() == [False, False]
    assert mask.outcomes()["correct5"].tolist() == [True, True]  # only 2 classes: top-5 covers both
    # Confidence under mask: softmax over the 3 member logits, class A sums c1 + c2.
    sub = torch.tensor([1.0, 3.0, 2.0]).softmax(0)
    assert mask.outcomes()["confidence"][0] == pytest.approx(float(sub[0] + sub[1]), rel=1e-6)
    assert mask.num_scored_classes == 2 and full.num_scored_classes == 6


def test_benchmark_classes_missing_from_the_model_are_an_error():
    model = LabelSpace.from_ids(["a", "b"])
    with pytest.raises(InputError, match="does not cover"):
        make_task("x", LabelSpace.from_ids(["a", "z"]), [("a",), ("z",)], np.array([0]), model, "mask")
