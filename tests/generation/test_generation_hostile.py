"""Generation against hostile files and odd numbers: records that lead outside --out, a second job on the
same shards, an output among the inputs, non-finite or negative options."""

import json

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.errors import ConfigError, DatasetError, JobConflictError
from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.generation.job import run_job
from genrobust_fast.genset import Layout, shard_name
from genrobust_fast.outlock import lock_output


@pytest.fixture
def classes_file(tmp_path):
    path = tmp_path / "classes.tsv"
    path.write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    return path


def _cfg(tmp_path, classes_file, **kw):
    values = dict(
        model="tiny",
        classes=str(classes_file),
        per_class=2,
        steps=2,
        backend="torch",
        out=str(tmp_path / "g"),
    )
    return GenerateConfig(**{**values, **kw})


def _tamper_first_record(out, file):
    jsonl = Layout(out, 1).jsonl(0)
    lines = jsonl.read_text().splitlines()
    record = json.loads(lines[0])
    original = record["file"]
    record["file"] = file
    jsonl.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    return original


@pytest.mark.parametrize("escape", ["../victim.jpg", "n01440764/../../victim.jpg", "{victim}"])
def test_dedup_never_deletes_a_file_a_record_places_outside_the_output(tmp_path, classes_file, escape):
    from genrobust_fast.generation.dedup import dedup_generated

    cfg = _cfg(tmp_path, classes_file)
    run_job(cfg, progress=False)
    out = tmp_path / "g"
    victim = tmp_path / "victim.jpg"
    original = _tamper_first_record(out, escape.format(victim=victim))
    victim.write_bytes((out / original).read_bytes())  # the same image: dedup would drop it as a copy
    with pytest.raises(DatasetError, match="outside it .* the file is damaged or was edited"):
        dedup_generated(out, max_distance=64)  # every image counts as a copy of every other
    assert victim.is_file() and (out / original).is_file()
    # A rerun treats the record as damage and remakes the image under its own name; the victim is untouched.
    summary = run_job(cfg, progress=False)
    assert summary["repaired"]["images"] == 1 and summary["images"] == 1
    assert "a path outside the output folder" in summary["repaired"]["problems"][0]
    files = [json.loads(line)["file"] for line in Layout(out, 1).jsonl(0).read_text().splitlines()]
    assert original in files and len(files) == 4 and not any(".." in f or "victim" in f for f in files)
    assert victim.is_file()


def test_a_second_job_on_the_same_shard_is_refused_naming_the_first(tmp_path, classes_file):
    cfg = _cfg(tmp_path, classes_file, shards=2)
    import os

    with lock_output(tmp_path / "g", shard_name(1, 2)):  # stands in for a job running shard 1
        with pytest.raises(JobConflictError, match=f"PID {os.getpid()}"):
            run_job(cfg, progress=False)  # all shards: meets shard 1
        summary = run_job(_cfg(tmp_path, classes_file, shards=2, shard="0/2"), progress=False)
        assert summary["images"] == 2  # worker 0 of 2 shares the folder, not the shard


def test_img2img_into_its_own_real_folder_is_refused_before_writing(tmp_path, real_dir):
    before = sorted(p.relative_to(real_dir) for p in real_dir.rglob("*"))
    for out in (real_dir, real_dir / "n01440764"):
        result = CliRunner().invoke(
            cli,
            ["generate", "--strategy", "img2img", "--real", str(real_dir), "--out", str(out), "--steps", "2"],
        )
        assert result.exit_code == 1
        assert "InputError: --out" in result.output and "among its inputs" in result.output
    assert sorted(p.relative_to(real_dir) for p in real_dir.rglob("*")) == before


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("guidance", float("nan"), "guidance=nan is out of range"),
        ("guidance", float("inf"), "guidance=inf is out of range"),
        ("seed", -5, "seed=-5 is out of range"),
        ("dedup_distance", 65, "dedup_distance=65 is out of range"),
    ],
)
def test_bad_numbers_are_refused_by_the_config(tmp_path, classes_file, field, value, match):
    with pytest.raises(ConfigError, match=match):
        _cfg(tmp_path, classes_file, **{field: value})


@pytest.mark.parametrize(
    "args, match",
    [
        (["--guidance", "nan"], "guidance: nan is not a finite number"),
        (["--strength", "nan"], "strength: nan is not a finite number"),
        (["--seed", "-5"], "seed=-5 is out of range"),
        (["--batch-size", "0"], "batch_size=0 is invalid"),
    ],
)
def test_bad_numbers_on_the_command_line_are_one_line(tmp_path, args, match):
    result = CliRunner().invoke(cli, ["generate", "--out", str(tmp_path / "g"), "--dry-run", *args])
    assert result.exit_code == 1 and match in result.output and "Traceback" not in result.output
    assert not (tmp_path / "g").exists()


def test_img2img_rerun_after_a_real_image_was_added_is_another_job(tmp_path, real_dir):
    import shutil

    from PIL import Image

    real = tmp_path / "real"
    shutil.copytree(real_dir, real)
    cfg = GenerateConfig(
        model="tiny", strategy="img2img", real=str(real), steps=2, backend="torch", out=str(tmp_path / "g")
    )
    assert run_job(cfg, progress=False)["images"] == 5
    assert run_job(cfg, progress=False)["images"] == 0  # the same listing: nothing left to do
    Image.new("RGB", (40, 30), (9, 9, 9)).save(real / "n01440764" / "img_added.png")
    with pytest.raises(JobConflictError, match="holds a different generation job \\(real_listing_sha256: "):
        run_job(cfg, progress=False)
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "--strategy",
            "img2img",
            "--real",
            str(real),
            "--steps",
            "2",
            "--out",
            str(tmp_path / "g"),
            "--dry-run",
        ],
    )
    assert (
        result.exit_code == 1
        and "JobConflictError" in result.output
        and "real_listing_sha256" in result.output
    )


def test_a_negative_verify_count_is_refused_before_the_job(tmp_path, classes_file):
    args = ["generate", "--classes", str(classes_file), "--steps", "2", "--out", str(tmp_path / "g")]
    result = CliRunner().invoke(cli, [*args, "--verify-against-diffusers", "-2"])
    assert result.exit_code == 2 and "--verify-against-diffusers" in result.output
    assert not (tmp_path / "g").exists()
