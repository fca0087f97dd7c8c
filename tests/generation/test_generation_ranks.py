"""Two launcher ranks (RANK/WORLD_SIZE/LOCAL_RANK, as torchrun sets them) write the same files as one process.

The images are float work, so the comparison holds only with the same batch size and thread count on both
sides (OMP_NUM_THREADS=1 in the ranks, one torch thread here, the same --batch-size); manifest.json and the
*.done.json markers hold timings and are left out, as are the lock files (each holds its writer's PID).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.outlock import is_lock_file  # hold the PID of each writer, no output

REPO = Path(__file__).resolve().parents[2]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.name != "manifest.json"
        and not p.name.endswith(".done.json")
        and not is_lock_file(p)
    }


@pytest.mark.slow
def test_two_ranks_write_the_files_of_one_process(tmp_path, monkeypatch):
    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\nn01443537\tgoldfish\n")

    def args(out):
        return [
            "generate",
            "--model",
            "tiny",
            "--classes",
            str(classes),
            "--per-class",
            "3",
            "--steps",
            "2",
            "--backend",
            "torch",
            "--device",
            "cpu",
            "--batch-size",
            "2",
            "--shards",
            "2",
            "--format",
            "webdataset",
            "--out",
            str(out),
            "--no-progress",
            "--json",
        ]

    launcher = {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    # Rank 1 in its own process; rank 0 here at the same time (one interpreter start less on a small CI).
    rank1 = subprocess.Popen(
        [sys.executable, "-m", "genrobust_fast", *args(tmp_path / "ranks")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            **launcher,
            "RANK": "1",
            "LOCAL_RANK": "1",
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        },
    )
    with monkeypatch.context() as env:
        for key, value in {**launcher, "RANK": "0", "LOCAL_RANK": "0"}.items():
            env.setenv(key, value)
        rank0 = CliRunner().invoke(cli, args(tmp_path / "ranks"))
    stdout, stderr = rank1.communicate(timeout=300)
    assert rank0.exit_code == 0, rank0.output
    assert rank1.returncode == 0, stderr[-2000:]
    assert json.loads(rank0.stdout)["images"] == json.loads(stdout)["images"] == 3
    single = CliRunner().invoke(cli, args(tmp_path / "single"))  # one process, every shard
    assert single.exit_code == 0, single.output
    assert json.loads(single.stdout)["images"] == 6

    by_ranks, alone = _files(tmp_path / "ranks"), _files(tmp_path / "single")
    assert (
        sorted(by_ranks)
        == sorted(alone)
        == [
            "_meta/shard-00000-of-00002.jsonl",
            "_meta/shard-00001-of-00002.jsonl",
            "shards/shard-00000-of-00002.tar",
            "shards/shard-00001-of-00002.tar",
        ]
    )
    assert [name for name in alone if by_ranks[name] != alone[name]] == []
