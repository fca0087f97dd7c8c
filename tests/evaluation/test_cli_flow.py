"""`genrobust eval` -> `report` -> `fit-baseline` from the command line, on fixture trees."""

import csv
import json
import math

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.evaluation.results import ROW_FORMAT

from .trees import ESPRESSO, TABBY, v2_tree, wnid_tree

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_eval_then_report_writes_csv_markdown_and_plots(tmp_path, mobilenet_weights, photos):
    wnid_tree(tmp_path / "val", {k: [v] for k, v in photos.items()})
    v2_tree(tmp_path / "v2", {k: [v] for k, v in photos.items()})
    wnid_tree(tmp_path / "r", {TABBY: [photos[TABBY]], ESPRESSO: [photos[ESPRESSO]]}, ext="jpg", prefix="art")
    out, report = tmp_path / "results", tmp_path / "report"
    runner = CliRunner()
    args = [
        "eval",
        "--arch",
        "mobilenet_v2",
        "--weights",
        str(mobilenet_weights),
        "--name",
        "mnv2",
        "--benchmark",
        f"imagenet-val={tmp_path / 'val'}",
        "--benchmark",
        f"imagenet-v2={tmp_path / 'v2'}",
        "--benchmark",
        f"imagenet-r={tmp_path / 'r'}",
        "--device",
        "cpu",
        "--num-workers",
        "0",
        "--batch-size",
        "4",
        "--out",
        str(out),
    ]
    partial = runner.invoke(cli, args)
    assert partial.exit_code == 1 and "partial" in partial.output and "--force" in partial.output
    result = runner.invoke(cli, args + ["--force"])
    assert result.exit_code == 0, result.output
    assert "imagenet-v2" in result.output and "top1  66.67" in result.output

    result = runner.invoke(cli, ["report", str(out / "results.jsonl"), "--out", str(report)])
    assert result.exit_code == 0, result.output
    rows = {r["benchmark"]: r for r in csv.DictReader((report / "results.csv").read_text().splitlines())}
    assert set(rows) == {"imagenet-val", "imagenet-val[imagenet-r]", "imagenet-v2", "imagenet-r"}
    v2 = rows["imagenet-v2"]
    # Shipped V2 line at ID 66.67 %: 100 * sigmoid(0.9232 * logit(2/3) - 0.4977)
    expected = 100 / (1 + math.exp(-(0.9232 * math.log(2) - 0.4977)))
    assert float(v2["baseline_top1"]) == pytest.approx(expected, abs=1e-3)
    assert float(v2["effective_robustness"]) == pytest.approx(200 / 3 - expected, abs=1e-3)
    assert rows["imagenet-r"]["id_benchmark"] == "imagenet-val[imagenet-r]"
    markdown = (report / "results.md").read_text()
    assert "| mnv2 |" in markdown and f"({200 / 3 - expected:+.1f})" in markdown
    for shift in ("imagenet-v2", "imagenet-r"):
        assert (report / f"plot_{shift}.png").read_bytes().startswith(PNG_MAGIC)


def _fixture_row(model, bench, top1, id_benchmark=None):
    return {
        "format": ROW_FORMAT,
        "benchmark": bench,
        "base_benchmark": bench,
        "id_benchmark": id_benchmark,
        "model": {"name": model, "weights_sha256": model * 4, "num_classes": 10, "recipe": {}},
        "class_policy": "mask",
        "num_scored_classes": 10,
        "tta": "none",
        "n": 1000,
        "metrics": {
            "top1": top1,
            "top5": 99.0,
            "top1_ci": [max(top1 - 2, 0.0), min(top1 + 2, 100.0)],
            "ece": 3.0,
        },
    }


def test_fit_baseline_and_report_from_a_fixture_results_file(tmp_path):
    # Demo-style custom benchmarks: real-only models lie on logit(shift) = logit(ID) - 1.
    rows = []
    for name, id_acc in (("real1", 70.0), ("real2", 80.0), ("real3", 90.0)):
        shift = 100 / (1 + math.exp(-(math.log(id_acc / (100 - id_acc)) - 1)))
        rows += [
            _fixture_row(name, "fmnist-test", id_acc),
            _fixture_row(name, "fmnist-rot", shift, "fmnist-test"),
        ]
    rows += [
        _fixture_row("gen1", "fmnist-test", 80.0),
        _fixture_row("gen1", "fmnist-rot", 70.0, "fmnist-test"),
    ]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    fits = tmp_path / "fits.json"
    result = runner.invoke(
        cli, ["fit-baseline", str(results), "--models", "real*", "--bootstrap", "50", "--out", str(fits)]
    )
    assert result.exit_code == 0, result.output
    (fit,) = json.loads(fits.read_text())["fits"]
    assert fit["slope"] == pytest.approx(1.0) and fit["intercept"] == pytest.approx(-1.0)
    assert fit["n_models"] == 3 and fit["band"]["level"] == 0.95
    result = runner.invoke(
        cli, ["report", str(results), "--baselines", str(fits), "--out", str(tmp_path / "rep")]
    )
    assert result.exit_code == 0, result.output
    table = {
        (r["model"], r["benchmark"]): r
        for r in csv.DictReader((tmp_path / "rep" / "results.csv").read_text().splitlines())
    }
    # gen1 at ID 80 %: baseline 100 * sigmoid(ln 4 - 1) = 59.5390 %; ER = 70 - 59.5390 = 10.4610
    assert float(table[("gen1", "fmnist-rot")]["effective_robustness"]) == pytest.approx(10.4610, abs=1e-3)
    assert float(table[("real2", "fmnist-rot")]["effective_robustness"]) == pytest.approx(0.0, abs=1e-6)
    md = (tmp_path / "rep" / "results.md").read_text()
    assert "| gen1 | 80.0 | 70.0 (+10.5) |" in md
    assert (tmp_path / "rep" / "plot_fmnist-rot.png").read_bytes().startswith(PNG_MAGIC)


def test_cli_errors_are_one_clean_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["eval", "--arch", "resnet18", "--benchmark", f"imagenet-r={tmp_path}", "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 1 and "InputError" in result.output and "--weights" in result.output
    result = runner.invoke(cli, ["report", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "genrobust eval" in result.output


def _one_error_line(result) -> str:
    """The CLI's answer to bad input: exit 1, no traceback, one line."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_random_bytes_as_weights_are_one_clear_line_and_leave_no_output_folder(tmp_path):
    from genrobust_fast.classifiers import ClassifierCard
    from genrobust_fast.fileio import atomic_write_json
    from genrobust_fast.labels import LabelSpace

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.safetensors").write_bytes(bytes(range(256)) * 16)  # a valid card, random-looking weights
    atomic_write_json(
        run / "model.json", ClassifierCard("resnet18", LabelSpace.from_ids(["a", "b"])).to_json()
    )
    (tmp_path / "w.safetensors").write_bytes(bytes(range(256)) * 16)
    bench = f"imagenet-val={tmp_path}"  # a built-in name: folder:NAME would register NAME for later tests
    for model_args, named in (
        (["--checkpoint", str(run / "model.safetensors")], run / "model.safetensors"),
        (["--arch", "resnet18", "--weights", str(tmp_path / "w.safetensors")], tmp_path / "w.safetensors"),
    ):
        result = CliRunner().invoke(
            cli, ["eval", *model_args, "--benchmark", bench, "--out", str(tmp_path / "o")]
        )
        line = _one_error_line(result)
        assert f"{str(named)!r} is not a valid safetensors file" in line, line
        assert "again" in line  # what to do
        assert not (tmp_path / "o").exists()


def test_report_and_fit_baseline_refuse_an_empty_results_file(tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_text("")
    for args in (
        ["report", str(results), "--out", str(tmp_path / "rep")],
        ["fit-baseline", str(results), "--out", str(tmp_path / "fits.json")],
    ):
        line = _one_error_line(CliRunner().invoke(cli, args))
        assert "holds no results" in line and "genrobust eval" in line
    assert not (tmp_path / "rep").exists() and not (tmp_path / "fits.json").exists()


def test_fit_baseline_explains_that_0_and_100_percent_cannot_be_fitted(tmp_path, caplog):
    rows = [
        _fixture_row("perfect", "fmnist-test", 100.0),
        _fixture_row("perfect", "fmnist-rot", 90.0, "fmnist-test"),
        _fixture_row("broken", "fmnist-test", 0.0),
        _fixture_row("broken", "fmnist-rot", 10.0, "fmnist-test"),
    ]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    line = _one_error_line(
        CliRunner().invoke(cli, ["fit-baseline", str(results), "--out", str(tmp_path / "f.json")])
    )
    assert "has 2 model(s) but 0 with accuracies strictly between 0 and 100 %" in line
    assert (
        "perfect (100 % ID" in line
        and "broken (0 % ID" in line
        and "logit(100 %)" in line
        and "infinite" in line
    )
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # the error is the only thing said
    # A third, ordinary model does not make the edge points fittable: they are left out, the rest is fitted.
    rows += [
        _fixture_row("mid1", "fmnist-test", 60.0),
        _fixture_row("mid1", "fmnist-rot", 50.0, "fmnist-test"),
        _fixture_row("mid2", "fmnist-test", 80.0),
        _fixture_row("mid2", "fmnist-rot", 70.0, "fmnist-test"),
    ]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(
        cli, ["fit-baseline", str(results), "--bootstrap", "10", "--out", str(tmp_path / "f.json")]
    )
    assert result.exit_code == 0, result.output
    (fit,) = json.loads((tmp_path / "f.json").read_text())["fits"]
    assert fit["models"] == ["mid1", "mid2"]
