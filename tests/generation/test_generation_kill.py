"""A real SIGKILL of a real `genrobust generate` process, then a rerun: the files of an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.generation.job import run_job


def files_of(root: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(root)): "marker" if p.name.endswith(".done.json") else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}

ARGS = ["--model", "tiny", "--per-class", "40", "--steps", "2", "--batch-size", "1", "--backend", "torch",
        "--seed", "3", "--writer-threads", "1", "--shards", "2"]


@pytest.mark.parametrize("fmt", ["imagefolder", "webdataset"])
def test_sigkill_then_rerun_gives_identical_files(tmp_path, fmt):
    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "genrobust_fast", "generate", *ARGS, "--classes", str(classes), "--out", str(out),
           "--format", fmt, "--no-progress", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jsonl = out / "_meta" / "shard-00000-of-00002.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if jsonl.exists() and jsonl.read_bytes().count(b"\n") >= 7:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the job ended before it could be killed; give it more images"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list((out / "_meta").glob("*.done.json"))  # killed mid-way through shard 0

    cfg = GenerateConfig(model="tiny", classes=str(classes), per_class=40, steps=2, batch_size=4, backend="torch",
                         seed=3, shards=2, format=fmt, out=str(out))
    resumed = run_job(cfg, progress=False)
    assert 0 < resumed["images"] < 80 and resumed["shards_complete"] == 2
    reference = tmp_path / "reference"
    run_job(GenerateConfig(**{**cfg.__dict__, "out": str(reference)}), progress=False)
    got, want = files_of(out), files_of(reference)
    got.pop("manifest.json"), want.pop("manifest.json")  # records each run's batch size
    assert got == want
    assert len(want) == (84 if fmt == "imagefolder" else 6)
