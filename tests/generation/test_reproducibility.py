"""The README's second guarantee: across batch sizes, thread counts and CPU capabilities, pixels stay within
the stated bound, and each image's metadata says which guarantee holds for it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.generation.job import run_job
from genrobust_fast.generation.reproducibility import PIXEL_BOUND, same_bytes_expected

JOB = {
    "model": "tiny",
    "per_class": 3,
    "steps": 3,
    "backend": "torch",
    "seed": 11,
    "strategy": "templates",
    "image_format": "png",
}


def pixels(root: Path) -> dict[str, np.ndarray]:
    return {
        p.name: np.asarray(Image.open(p).convert("RGB"), dtype=np.int16) for p in sorted(root.glob("*/*.png"))
    }


def records(root: Path) -> dict[str, dict]:
    lines = (root / "_meta" / "shard-00000-of-00001.jsonl").read_text().splitlines()
    return {Path(r["file"]).name: r for r in map(json.loads, lines)}


@pytest.mark.slow
def test_other_batch_threads_and_isa_stay_within_the_stated_bound(tmp_path):
    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_job(
            GenerateConfig(**JOB, classes=str(classes), batch_size=4, out=str(tmp_path / "here")),
            progress=False,
        )
    finally:
        torch.set_num_threads(before)
    # Another process: other batch size, other thread count, AVX2 kernels forced in torch and oneDNN.
    flags = [x for k, v in JOB.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "2"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "genrobust_fast",
            "generate",
            *flags,
            "--classes",
            str(classes),
            "--batch-size",
            "3",
            "--out",
            str(tmp_path / "there"),
            "--no-progress",
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=240,
    )

    here, there = pixels(tmp_path / "here"), pixels(tmp_path / "there")
    assert sorted(here) == sorted(there) and len(here) == 6
    diffs = [np.abs(here[k] - there[k]) for k in here]
    assert max(int(d.max()) for d in diffs) <= PIXEL_BOUND["max"]
    assert float(np.mean([d.mean() for d in diffs])) <= PIXEL_BOUND["mean"]
    # Same images, not merely close noise: a different seed moves pixels far beyond the bound.
    assert np.mean([np.abs(here[a] - there[b]).mean() for a, b in zip(sorted(here), sorted(here)[1:])]) > 10

    mine, theirs = records(tmp_path / "here"), records(tmp_path / "there")
    for name in mine:  # the metadata tells that only the bound is promised between these two runs
        assert not same_bytes_expected(mine[name], theirs[name])
        assert same_bytes_expected(mine[name], mine[name])
    a, b = next(iter(mine.values()))["compute"], next(iter(theirs.values()))["compute"]
    assert (a["batch_size"], a["threads"], b["batch_size"], b["threads"]) == (4, 1, 3, 2)
    assert b["cpu_capability"] == "AVX2"
