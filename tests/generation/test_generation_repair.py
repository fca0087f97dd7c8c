"""A rerun checks a job's recorded outputs, not only its done markers, and remakes what is missing or
damaged: byte-identical to the intact job under the same settings, and said so in the summary."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.generation.job import run_job

JOB = {
    "model": "tiny",
    "per_class": 4,
    "steps": 2,
    "batch_size": 3,
    "backend": "torch",
    "shards": 2,
    "writer_threads": 2,
}


@pytest.fixture
def job(tmp_path, one_thread, files_of):
    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\nn01443537\tgoldfish\n")

    def make(fmt: str) -> tuple[GenerateConfig, dict[str, str]]:
        cfg = GenerateConfig(**JOB, classes=str(classes), format=fmt, out=str(tmp_path / fmt))
        assert run_job(cfg, progress=False)["shards_complete"] == 2
        return cfg, files_of(Path(cfg.out))

    return make


def test_missing_and_truncated_images_are_regenerated(job, files_of):
    cfg, intact = job("imagefolder")
    out = Path(cfg.out)
    images = sorted(out.glob("n*/*.jpg"))
    images[1].unlink()
    images[6].write_bytes(images[6].read_bytes()[:100])
    summary = run_job(cfg, progress=False)
    assert summary["repaired"]["images"] == 2 and summary["images"] == 2
    assert sorted(summary["repaired"]["shards"]) == [0, 1] or len(summary["repaired"]["shards"]) == 1
    assert files_of(out) == intact  # every image and every JSON line, in work-list order


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_a_damaged_tar_shard_is_remade_from_its_first_bad_member(job, files_of, damage):
    cfg, intact = job("webdataset")
    out = Path(cfg.out)
    tar = out / "shards" / "shard-00001-of-00002.tar"
    if damage == "deleted":
        tar.unlink()
    else:
        first_end = json.loads((out / "_meta" / "shard-00001-of-00002.jsonl").read_text().splitlines()[0])[
            "tar_end"
        ]
        tar.write_bytes(tar.read_bytes()[: first_end + 700])  # inside its second image
    summary = run_job(cfg, progress=False)
    assert summary["repaired"]["shards"] == [1]
    assert summary["images"] == summary["repaired"]["images"] == (4 if damage == "deleted" else 3)
    assert files_of(out) == intact


def test_verify_catches_same_size_corruption_that_the_quick_check_cannot(job, files_of):
    cfg, intact = job("imagefolder")
    out = Path(cfg.out)
    victim = sorted(out.glob("n*/*.jpg"))[3]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert run_job(cfg, progress=False)["repaired"]["images"] == 0  # sizes match: the quick check passes
    result = CliRunner().invoke(_cli(), _argv(cfg) + ["--verify"])
    assert result.exit_code == 0, result.output
    assert "repaired: 1 recorded image(s)" in result.output and victim.name in result.output
    assert files_of(out) == intact


def _cli():
    from genrobust_fast.cli.main import cli

    return cli


def _argv(cfg: GenerateConfig) -> list[str]:
    return [
        "generate",
        "--model",
        "tiny",
        "--classes",
        cfg.classes,
        "--per-class",
        "4",
        "--steps",
        "2",
        "--batch-size",
        "3",
        "--backend",
        "torch",
        "--shards",
        "2",
        "--writer-threads",
        "2",
        "--format",
        cfg.format,
        "--out",
        cfg.out,
        "--no-progress",
    ]


def test_an_intact_job_is_left_alone(job, files_of):
    cfg, intact = job("webdataset")
    summary = run_job(cfg, progress=False, verify=True)
    assert summary["repaired"] == {"images": 0, "shards": [], "problems": []} and summary["images"] == 0
    assert files_of(Path(cfg.out)) == intact
    assert json.loads((Path(cfg.out) / "manifest.json").read_text())["num_shards"] == 2
