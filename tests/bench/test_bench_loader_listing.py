"""The loader and listing benchmarks at toy sizes: a wrong result is refused in one line before anything is
timed, the figures follow the times the loaders really took, and the JSON says which kernel path ran."""

import json
import os
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from genrobust_fast.bench import loader as loader_bench
from genrobust_fast.bench.scale_listing import bench_listing
from genrobust_fast.cli.main import cli
from genrobust_fast.data import scan
from genrobust_fast.errors import ParityError
from genrobust_fast.kernels import _native

TINY_LOADER = ["--images", "16", "--size", "160", "--out-size", "112", "--batch-size", "8"]


class Ticking:
    """The real batches, each delivered `dt` seconds of `clock` after the one before."""

    def __init__(self, batches, clock, dt):
        self.batches, self.clock, self.dt = batches, clock, dt

    def __iter__(self):
        for batch in self.batches:
            self.clock.now += self.dt
            yield batch


def test_loader_figures_follow_the_seconds_each_epoch_took(tmp_path, monkeypatch):
    # A fake clock, advanced per batch by a set amount for each loader and round, so the expected figures
    # are known independently of the benchmark's arithmetic; the loaders themselves are real.
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(loader_bench, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    seconds_per_batch = {"plain": [0.2, 0.1], "torch": [0.1, 0.05], "dali": [0.025, 0.2]}
    rounds = {name: 0 for name in seconds_per_batch}

    def next_dt(name):
        rounds[name] += 1
        return seconds_per_batch[name][rounds[name] - 1]

    plain_loader, ours = loader_bench._plain_loader, loader_bench._ours

    def ticking_plain(*args, train):
        loader = plain_loader(*args, train=train)
        return Ticking(loader, clock, next_dt("plain")) if train else loader

    def ticking_ours(kind, *args, train):
        loader = ours(kind, *args, train=train)
        if train:
            epochs, dt = loader.epoch, next_dt(kind)
            loader.epoch = lambda e: Ticking(epochs(e), clock, dt)
        return loader

    monkeypatch.setattr(loader_bench, "_plain_loader", ticking_plain)
    monkeypatch.setattr(loader_bench, "_ours", ticking_ours)
    result = loader_bench.bench_loader(
        n_images=48, size=160, out_size=112, batch_size=8, threads=1, parity_images=20, repeats=2
    )
    # 48 images make 6 batches of 8; the first is start-up, so 40 images over 5 batch intervals.
    expected = {
        "plain_torchvision": ([40.0, 80.0], 0.1),
        "torch_kernel": ([80.0, 160.0], 0.05),
        "dali": ([320.0, 40.0], 0.025),
    }
    for name, (epochs, startup) in expected.items():
        got = result["results"][name]
        assert got["images_timed"] == 40 and got["epochs_images_per_s"] == epochs
        assert got["images_per_s"] == max(epochs) and got["startup_s"] == startup  # the best epoch's
    assert result["ratios"] == {"torch_kernel_vs_plain": 2.0, "dali_vs_plain": 4.0}


def test_a_loader_with_swapped_channels_fails_parity_in_one_line_before_timing(tmp_path, monkeypatch):
    ours, timed = loader_bench._ours, []

    def bgr(kind, *args, train):
        loader = ours(kind, *args, train=train)
        epochs = loader.epoch
        loader.epoch = lambda e: ((x.flip(1), y) for x, y in epochs(e))  # RGB -> BGR, a classic bug
        return loader

    monkeypatch.setattr(loader_bench, "_ours", bgr)
    monkeypatch.setattr(loader_bench, "_time_epoch", lambda batches: timed.append(batches))
    result = CliRunner().invoke(cli, ["bench", "loader", *TINY_LOADER, "--threads", "1"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert errors[0].startswith("Error: ParityError: torch loader disagrees with torchvision preprocessing")
    assert timed == []


def test_loader_json_records_the_kernel_path_that_ran(tmp_path):
    core = _native.core()
    core.set_isa("baseline")  # not this CPU's best path: the record must say what ran, not what could
    try:
        result = CliRunner().invoke(
            cli,
            ["bench", "loader", *TINY_LOADER, "--repeats", "1", "--out", str(tmp_path / "loader.json")],
        )
    finally:
        core.reset_isa()
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert printed == json.loads((tmp_path / "loader.json").read_text())
    assert printed["kernels"]["isa"] == "baseline" and printed["machine"]["kernels_isa"] == "baseline"
    assert printed["threads"] == len(os.sched_getaffinity(0))  # the default budget: every usable CPU


def test_listing_benchmark_times_a_cache_that_lists_every_file(tmp_path):
    tree = tmp_path / "tree"
    result = bench_listing(n_files=600, n_classes=6, root=str(tree), keep=True)
    listed = scan.scan_image_folder(tree)
    assert listed.from_cache  # what "cached_s" timed is a real cache hit, still valid after the run
    on_disk = sorted(f"{d.name}/{f.name}" for d in tree.iterdir() if d.is_dir() for f in d.iterdir())
    assert sorted(path for path, _ in listed) == on_disk and len(on_disk) == result["files"] == 600
    assert result["cache_bytes"] == (scan.index_dir(tree) / "scan.json").stat().st_size


def test_listing_benchmark_refuses_to_time_a_full_scan_as_a_cached_one(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "MTIME_SAFETY_S", 10**7)  # no folder is old enough: the cache is never used
    with pytest.raises(ParityError, match="did not come from the scan cache") as caught:
        bench_listing(n_files=60, n_classes=3, root=str(tmp_path / "tree"), plain=False)
    assert "\n" not in str(caught.value)
