"""Evaluation options out of range are one clear line, not a traceback from inside a DataLoader."""

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.errors import ConfigError
from genrobust_fast.evaluation.results import append_results, read_results
from genrobust_fast.evaluation.runner import EvalOptions


@pytest.mark.parametrize(
    "field, value",
    [("batch_size", 0), ("batch_size", -3), ("num_workers", -1), ("border_crop", -2)],
)
def test_eval_options_refuse_each_bad_number(field, value):
    with pytest.raises(ConfigError, match=f"{field}={value} is out of range"):
        EvalOptions(**{field: value})


def test_fit_baseline_refuses_zero_bootstrap_resamples(tmp_path):
    (tmp_path / "results.jsonl").write_text("")
    result = CliRunner().invoke(
        cli,
        [
            "fit-baseline",
            str(tmp_path / "results.jsonl"),
            "--out",
            str(tmp_path / "f.json"),
            "--bootstrap",
            "0",
        ],
    )
    assert result.exit_code == 2 and "--bootstrap" in result.output and not (tmp_path / "f.json").exists()


def test_results_are_appended_under_the_shared_lock(tmp_path):
    row = {"format": "genrobust-eval/1", "model": {"name": "m", "weights_sha256": "a", "num_classes": 2}}
    row |= {"benchmark": "b", "n": 1, "num_scored_classes": 2}
    row["metrics"] = {"top1": 100.0, "top5": 100.0, "ece": 0.0, "top1_ci": [2.5, 100.0]}
    append_results(tmp_path / "results.jsonl", [{**row, "class_policy": "mask", "tta": "none"}])
    append_results(tmp_path / "results.jsonl", [{**row, "class_policy": "mask", "tta": "flip"}])
    assert [r["tta"] for r in read_results(tmp_path)] == ["none", "flip"]
    assert (tmp_path / ".genrobust-results.jsonl.lock").is_file()
