"""`genrobust bench all`: discovery of each area's options, failures recorded, results parsed."""

import json

from click.testing import CliRunner

from genrobust_fast.bench import all as bench_all
from genrobust_fast.cli.main import cli


def test_argv_passes_only_the_options_a_benchmark_declares(tmp_path):
    out = tmp_path / "k.json"
    assert bench_all.benchmark_argv("unet", {"--quick", "--model", "--out"}, True, out) == [
        "bench",
        "unet",
        "--quick",
        "--model",
        "tiny",
        "--out",
        str(out),
    ]
    assert bench_all.benchmark_argv("kernels", {"--size"}, True, out) == ["bench", "kernels"]
    assert bench_all.benchmark_argv("loader", {"--quick"}, False, out) == ["bench", "loader"]


def test_a_failing_benchmark_is_recorded_with_its_error(tmp_path, monkeypatch):
    # A real subprocess that exits non-zero (a missing required option) stands for a broken benchmark.
    monkeypatch.setattr(bench_all, "command_options", lambda area: set())
    monkeypatch.setattr(bench_all, "benchmark_argv", lambda *a: ["generator", "finetune"])
    doc = bench_all.run_all(["kernels", "unet"], work_dir=tmp_path)
    for area in ("kernels", "unet"):
        rec = doc["benchmarks"][area]
        assert rec["status"] == "failed" and rec["returncode"] == 2 and "--model" in rec["error"]
    assert "failed" in bench_all.summary_table(doc)


def test_missing_benchmarks_do_not_stop_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_all, "command_options", lambda area: None)
    out = tmp_path / "all.json"
    result = CliRunner().invoke(
        cli, ["bench", "all", "--only", "scale", "--only", "train", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert {a: r["status"] for a, r in doc["benchmarks"].items()} == {"scale": "missing", "train": "missing"}
    bad = CliRunner().invoke(cli, ["bench", "all", "--only", "gpu"])
    assert bad.exit_code == 2 and "unknown area" in bad.output


def test_results_are_read_from_the_file_or_the_printed_json(tmp_path):
    assert bench_all._read_result(tmp_path / "none.json", 'INFO x {not json}\n{"a": {"b": 1}}\n') == {
        "a": {"b": 1}
    }
    (tmp_path / "r.json").write_text('{"z": 2}')
    assert bench_all._read_result(tmp_path / "r.json", "") == {"z": 2}
    assert bench_all._read_result(tmp_path / "none.json", "no json here") is None


def test_headline_figures_pick_ratios():
    result = {"correct": True, "native": {"img_s": 10.0, "speedup_vs_numpy": 3.5}, "ratio": 2, "n": 5}
    assert bench_all.headline_figures(result) == [("native.speedup_vs_numpy", 3.5), ("ratio", 2)]
    nested = {"ratios": {"dali_vs_plain": 2.5}, "results": {"dali": {"images_per_s": 2265.7}}}
    assert bench_all.headline_figures(nested) == [("ratios.dali_vs_plain", 2.5)]
