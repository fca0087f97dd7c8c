"""`genrobust bench all`: each area runs in its own process through its library function; a failure is
recorded with its error and the other areas still run."""

import json

from click.testing import CliRunner

from genrobust_fast.bench import all as bench_all
from genrobust_fast.cli.main import cli


def test_a_failing_benchmark_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    # Real child processes: json.loads(quick=...) fails as a broken benchmark would, dict(quick=...) is
    # a benchmark that returns its arguments.
    monkeypatch.setattr(bench_all, "BENCHMARKS", {"kernels": "json:loads", "scale": "builtins:dict"})
    out = tmp_path / "all.json"
    result = CliRunner().invoke(
        cli, ["bench", "all", "--only", "kernels", "--only", "scale", "--full", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    failed, ok = doc["benchmarks"]["kernels"], doc["benchmarks"]["scale"]
    assert failed["status"] == "failed" and failed["returncode"] == 1 and "TypeError" in failed["error"]
    assert ok["status"] == "ok" and ok["command"] == "genrobust bench scale"
    assert ok["result"]["quick"] is False and ok["result"]["machine"]["cpu_model"]  # as every result has
    table = dict(line.split(maxsplit=1) for line in result.output.splitlines()[1:3])
    assert table["kernels"].startswith("failed") and table["scale"].startswith("ok")


def test_an_unknown_area_is_refused():
    bad = CliRunner().invoke(cli, ["bench", "all", "--only", "gpu"])
    assert bad.exit_code == 2 and "'gpu' is not one of" in bad.output


def test_headline_figures_pick_ratios():
    result = {"correct": True, "native": {"img_s": 10.0, "speedup_vs_numpy": 3.5}, "ratio": 2, "n": 5}
    assert bench_all.headline_figures(result) == [("native.speedup_vs_numpy", 3.5), ("ratio", 2)]
    nested = {"ratios": {"dali_vs_plain": 2.5}, "results": {"dali": {"images_per_s": 2265.7}}}
    assert bench_all.headline_figures(nested) == [("ratios.dali_vs_plain", 2.5)]
