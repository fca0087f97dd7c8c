"""Results and baseline files of the wrong shape (issue 28): one line naming the file (and line) and the
fix, from `report` and `fit-baseline`, never a KeyError or JSONDecodeError traceback."""

import copy
import json

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from tests.core.test_write_failures import _result_row

GOOD = [_result_row("m", "imagenet-val", 70.0), _result_row("m", "imagenet-v2", 60.0, "imagenet-val")]


def _without(*keys):
    def edit(row):
        owner = row
        for key in keys[:-1]:
            owner = owner[key]
        del owner[keys[-1]]

    return edit


def _setting(value, *keys):
    def edit(row):
        owner = row
        for key in keys[:-1]:
            owner = owner[key]
        owner[keys[-1]] = value

    return edit


BAD_ROWS = {
    "no model": (_without("model"), "model.name is missing"),
    "model a string": (_setting("m", "model"), "model.name is missing"),
    "no weights hash": (_without("model", "weights_sha256"), "model.weights_sha256 is missing"),
    "metrics a list": (_setting([1], "metrics"), "metrics is not an object"),
    "top1 a string": (_setting("70", "metrics", "top1"), "top1 = '70' is not a percentage"),
    "no ece": (_without("metrics", "ece"), "metrics.ece is missing, expected int or float"),
    "top1_ci one number": (_setting([1.0], "metrics", "top1_ci"), "metrics.top1_ci is [1.0]"),
    "n a bool": (_setting(True, "n"), "n is True, expected int"),
    "benchmark a number": (_setting(3, "benchmark"), "benchmark is 3, expected str"),
    "id_benchmark a list": (
        _setting(["a"], "id_benchmark"),
        "id_benchmark is ['a'], expected str or NoneType",
    ),
}


@pytest.mark.parametrize("command", ["report", "fit-baseline"])
@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_results_line_of_the_wrong_shape_is_named_by_file_and_line(tmp_path, case, command):
    edit, message = BAD_ROWS[case]
    rows = copy.deepcopy(GOOD)
    edit(rows[1])
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / ("report" if command == "report" else "fits.json")
    result = CliRunner().invoke(cli, [command, str(results), "--out", str(out)])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"InputError: {results}:2: {message}" in result.output and "eval" in result.output
    assert not out.exists()


BAD_BASELINES = {
    "not JSON": ("slope 1, intercept 0", "is not JSON (Expecting value"),
    "a list": ("[1, 2]", "format 'a JSON list' is not 'genrobust-er-baselines/1'"),
    "another format": ('{"format": "x"}', "format 'x' is not"),
    "fits not a list": ('{"format": "genrobust-er-baselines/1", "fits": {}}', "'fits' is not a list"),
    "a fit without slope": (
        '{"format": "genrobust-er-baselines/1", "fits": [{"shift": "a", "id_benchmark": "b"}]}',
        "is malformed",
    ),
    "a NaN slope": (
        (
            '{"format": "genrobust-er-baselines/1", "fits": [{"shift": "a", "id_benchmark": "b", '
            '"slope": NaN, "intercept": 0}]}'
        ),
        "not a finite number",
    ),
    "not UTF-8": (b"\xff\xfe{}", "the baseline file is not UTF-8"),
}


@pytest.mark.parametrize("case", BAD_BASELINES)
def test_a_baselines_file_of_the_wrong_shape_is_one_line(tmp_path, case):
    text, message = BAD_BASELINES[case]
    baselines = tmp_path / "fits.json"
    baselines.write_bytes(text if isinstance(text, bytes) else text.encode())
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in GOOD))
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["report", str(results), "--baselines", str(baselines), "--out", str(out)]
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "InputError: " in result.output and message in result.output and str(baselines) in result.output
    assert not out.exists()


def test_the_good_files_report(tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in GOOD))
    result = CliRunner().invoke(cli, ["report", str(results), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "results.csv").is_file()
