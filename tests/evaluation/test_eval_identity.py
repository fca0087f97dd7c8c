"""Issue 28: an evaluation is done only for the folder it ran on, one name is one folder, plot files never
overwrite each other, and accuracies read back are percentages."""

import json

import pytest

from genrobust_fast.errors import InputError
from genrobust_fast.evaluation import get_benchmark
from genrobust_fast.evaluation.report import plot_name, write_report
from genrobust_fast.evaluation.results import ROW_FORMAT, read_results
from genrobust_fast.evaluation.runner import BenchmarkRequest, EvalOptions, evaluate

from .trees import ESPRESSO, TABBY, TRIPOD, v2_tree

FAST = EvalOptions(batch_size=4, device="cpu", num_workers=0, force=True)


def _req(name, root):
    return BenchmarkRequest(get_benchmark(name), root)


def test_another_folder_under_the_same_name_is_evaluated_again(tmp_path, mobilenet, photos):
    v2_tree(tmp_path / "v2", {k: [v] for k, v in photos.items()})
    v2_tree(tmp_path / "other", {TABBY: [photos[TABBY]], ESPRESSO: [photos[ESPRESSO]]})
    out = tmp_path / "out"
    (first,) = evaluate(mobilenet, [_req("imagenet-v2", tmp_path / "v2")], out, FAST)
    assert evaluate(mobilenet, [_req("imagenet-v2", tmp_path / "v2")], out, FAST) == []  # same folder: done
    (second,) = evaluate(mobilenet, [_req("imagenet-v2", tmp_path / "other")], out, FAST)
    assert (first["n"], second["n"]) == (3, 2)
    (row,) = read_results(out)  # the newer folder's row replaced the older one
    assert row["n"] == 2 and row["dataset"]["root"] == str(tmp_path / "other")


def test_two_folders_under_one_benchmark_name_are_refused(tmp_path, mobilenet, photos):
    v2_tree(tmp_path / "a", {TRIPOD: [photos[TRIPOD]]})
    v2_tree(tmp_path / "b", {TRIPOD: [photos[TRIPOD]]})
    with pytest.raises(InputError, match="--benchmark imagenet-v2 is given twice.*'.*a' and '.*b'"):
        evaluate(
            mobilenet, [_req("imagenet-v2", tmp_path / "a"), _req("imagenet-v2", tmp_path / "b")], tmp_path
        )
    assert not (tmp_path / "results.jsonl").exists()


@pytest.mark.parametrize(
    "names",
    [("sketch/v2", "sketch_v2"), ("sketch v2", "sketch_v2", "sketch/v2"), ("a:b", "a?b", "a_b")],
)
def test_plot_names_never_collide(names):
    assert len({plot_name(n) for n in names}) == len(names)
    assert all(plot_name(n).replace("-", "").replace("_", "").isalnum() for n in names)


def _row(bench, top1, id_benchmark=None, n=100, **metrics):
    return {
        "format": ROW_FORMAT,
        "benchmark": bench,
        "base_benchmark": bench,
        "id_benchmark": id_benchmark,
        "model": {"name": "m", "weights_sha256": "m" * 4, "num_classes": 10, "recipe": {}},
        "class_policy": "mask",
        "num_scored_classes": 10,
        "tta": "none",
        "n": n,
        "metrics": {
            "top1": top1,
            "top5": 99.0,
            "top1_ci": [max(top1 - 2, 0), min(top1 + 2, 100)],
            "ece": 3.0,
            **metrics,
        },
    }


def test_report_writes_one_plot_per_shift_even_when_names_sanitize_alike(tmp_path):
    rows = [_row("id", 80.0), _row("sketch/v2", 60.0, "id"), _row("sketch_v2", 50.0, "id")]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    written = write_report(read_results(tmp_path), tmp_path / "rep", fits=[])
    assert len(set(written["plots"])) == 2 and all((tmp_path / "rep" / p).is_file() for p in written["plots"])


@pytest.mark.parametrize(
    "metrics, bad",
    [
        ({"top1": 150.0}, "top1 = 150.0"),
        ({"top1": -0.5}, "top1 = -0.5"),
        ({"top5": 100.01}, "top5 = 100.01"),
        ({"top1": "50"}, "top1 = '50'"),
        ({"top1": True}, "top1 = True"),
        ({"top1": float("nan")}, "top1 = nan"),
        ({"top1_ci": [40.0, 120.0]}, "top1_ci = 120.0"),
        ({"mean_per_class_top1": 1e9}, "mean_per_class_top1 = 1000000000.0"),
    ],
)
def test_results_read_back_refuse_accuracies_outside_0_to_100(tmp_path, metrics, bad):
    row = _row("imagenet-r", 50.0)
    row["metrics"].update(metrics)
    (tmp_path / "results.jsonl").write_text(json.dumps(_row("ok", 10.0)) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(InputError, match=rf"results.jsonl:2: {bad} is not a percentage in \[0, 100\]"):
        read_results(tmp_path)


@pytest.mark.parametrize("row", [_row("edge", 0.0), _row("edge", 100.0), _row("none", float("nan"), n=0)])
def test_results_read_back_keep_valid_edge_accuracies(tmp_path, row):
    (tmp_path / "results.jsonl").write_text(json.dumps(row) + "\n")
    assert read_results(tmp_path)[0]["benchmark"] == row["benchmark"]
