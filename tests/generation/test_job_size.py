"""Absurd job sizes (issue 28: `--per-class 1000000000000 --dry-run` hung building 2*10^8 shard sizes):
refused up front; within the limits the dry run's work grows with the shards, never with the images."""

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.generation import dryrun, job, worklist
from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.generation.worklist import MAX_JOB_IMAGES, MAX_SHARDS, Plan


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--per-class", "1000000000000"],
            "asks for 100,000,000,000,000 images (100 classes), over the limit",
        ),
        (["--per-class", str(MAX_JOB_IMAGES // 100 + 1)], "over the limit of 1,000,000,000 per job"),
        (
            ["--per-class", "1", "--shards", str(MAX_SHARDS + 1)],
            "--shards 100,001 is over the limit of 100,000",
        ),
    ],
)
def test_an_absurd_job_is_refused_before_planning(tmp_path, options, message):
    args = ["generate", "--classes", "imagenet100", *options, "--dry-run", "--out", str(tmp_path / "g")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert message in result.output and not (tmp_path / "g").exists()


def test_the_dry_run_of_the_largest_job_does_per_shard_work_only(tmp_path, monkeypatch):
    # 10^9 images in 40 shards: counting the calls shows the plan is arithmetic (no item is built except
    # the ones shown) and each shard is looked at a bounded number of times, whatever its size.
    counts = {"item_at": 0, "is_done": 0}

    def counting(owner, name):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    counting(Plan, "item_at")
    counting(job.Job, "is_done")
    cfg = GenerateConfig(
        model="tiny",
        classes="imagenet100",
        per_class=MAX_JOB_IMAGES // 100,
        shards=40,
        out=str(tmp_path / "g"),
    )
    report = dryrun.plan_report(cfg, show_shard=39, limit=5)
    assert report["total_images"] == MAX_JOB_IMAGES and report["shards"]["images_max"] == MAX_JOB_IMAGES // 40
    assert counts["item_at"] == 5 and len(report["shard_items"]["shown"]) == 5
    assert counts["is_done"] <= 2 * 40
    assert worklist.MAX_SHARDS * worklist.DEFAULT_SHARD_IMAGES >= MAX_JOB_IMAGES  # the default shards fit


@pytest.mark.parametrize(
    ("class_id", "message"),
    [
        ("n" * 300, "is 300 bytes: its image files ('nnnn_0000000.jpg' at the end) would be 312 bytes"),
        ("n" * 244, "over the 255-byte limit of a file name; use a class id of at most 243 bytes"),
        ("é" * 122, "is 244 bytes"),  # bytes, not characters, count
        ("n0\x01x", "holds a control character"),
    ],
)  # fmt: skip
def test_a_class_id_that_cannot_be_a_file_name_is_refused_up_front(tmp_path, class_id, message):
    classes = tmp_path / "classes.tsv"
    classes.write_text(f"{class_id}\ta long name\n", encoding="utf-8")
    args = ["generate", "--classes", str(classes), "--per-class", "1", "--out", str(tmp_path / "g")]
    result = CliRunner().invoke(
        cli, args
    )  # not a dry run: refused before the model loads or a file is written
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "InputError: class id" in result.output and message in result.output
    assert "disk" not in result.output and not (tmp_path / "g").exists()


def test_a_class_id_at_the_limit_is_planned(tmp_path):
    classes = tmp_path / "classes.tsv"
    classes.write_text("n" * 243 + "\tlong\n")
    cfg = GenerateConfig(model="tiny", classes=str(classes), per_class=2, out=str(tmp_path / "g"))
    plan = worklist.build_plan(cfg)
    assert len(f"{plan.item_at(1).stem}.jpg") == 255
