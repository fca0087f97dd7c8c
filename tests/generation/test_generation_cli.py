"""`genrobust generate`: dry-run plans, the CLI path end to end, dedup, audit, verification, clean errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli


@pytest.fixture
def classes_file(tmp_path):
    path = tmp_path / "classes.tsv"
    path.write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    return path


def _generate(*args):
    return CliRunner().invoke(cli, ["generate", *map(str, args)], catch_exceptions=False)


def test_dry_run_plans_imagenet_scale_and_shows_a_shard(tmp_path):
    result = _generate(
        "--classes",
        "imagenet",
        "--per-class",
        "1300",
        "--out",
        tmp_path / "g",
        "--dry-run",
        "--show-shard",
        "129",
        "--json",
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["total_images"] == 1_300_000 and plan["shards"]["count"] == 130
    assert plan["shards"]["images_min"] == plan["shards"]["images_max"] == 10_000
    assert plan["remaining_images"] == 1_300_000 and plan["estimated_bytes"] > 0
    shown = plan["shard_items"]["shown"]
    assert len(shown) == 50 and shown[0]["index"] == 129 and shown[1]["index"] == 129 + 130
    assert not (tmp_path / "g").exists()  # a dry run writes nothing


def test_generate_then_dry_run_reports_progress_then_dedup_and_verify(tmp_path, classes_file):
    out = tmp_path / "g"
    common = [
        "--model",
        "tiny",
        "--classes",
        classes_file,
        "--per-class",
        "2",
        "--steps",
        "2",
        "--backend",
        "torch",
        "--out",
        out,
        "--image-format",
        "png",
        "--shards",
        "2",
    ]
    result = _generate(*common, "--shard", "0/2", "--dedup", "--json")
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)
    assert first["images"] == 2
    # Near-duplicates are judged across every shard of a class: the first worker to finish leaves them.
    assert first["dedup"].startswith("skipped: not every shard is complete; rerun with --dedup")
    assert not (out / "_meta" / "dedup.json").exists()
    plan = json.loads(_generate(*common, "--dry-run", "--json").stdout)
    assert plan["shards"]["complete"] == 1 and plan["finished_images"] == 2
    assert plan["estimated_bytes_source"] == "measured from finished images"
    text = _generate(*common, "--dry-run").output
    assert "complete 1, partial 0" in text and "finished 2, remaining 2" in text
    result = _generate(*common, "--dedup", "--verify-against-diffusers", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 2 and summary["dedup"]["images"] == 4
    assert (out / "_meta" / "dedup.json").is_file()
    assert summary["verify"]["results"] == [{"backend": "torch", "precision": "fp32", "max_abs_diff": 0}]
    assert summary["verify"]["stored_file_max_abs_diff"] <= 1


def test_bad_inputs_exit_with_one_clean_line(tmp_path, classes_file):
    out = tmp_path / "g"
    cases = [
        (["--strategy", "img2img", "--classes", classes_file], "no --real folder"),
        (["--strategy", "variation", "--real", tmp_path / "nowhere"], "not a folder"),
        (["--classes", "imagenet5k"], "imagenet5k"),
        (["--shard", "4/2"], "out of range"),
        (["--scheduler", "nonsense", "--classes", classes_file, "--model", "tiny"], "unknown scheduler"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cli, ["generate", *map(str, args), "--out", str(out)])
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_dedup_drops_near_copies_and_audit_finds_benchmark_copies(tmp_path, classes_file):
    from PIL import Image

    from genrobust_fast.generation.config import GenerateConfig
    from genrobust_fast.generation.dedup import audit_generated, dedup_generated
    from genrobust_fast.generation.job import run_job

    out = tmp_path / "g"
    cfg = GenerateConfig(
        model="tiny",
        classes=str(classes_file),
        per_class=3,
        steps=2,
        backend="torch",
        out=str(out),
        image_format="png",
    )
    run_job(cfg, progress=False)
    cls = out / "n01440764"
    first = np.asarray(Image.open(cls / "n01440764_0000000.png"))
    Image.fromarray(first).save(cls / "n01440764_0000002.png")  # an exact copy inside the class
    bench = tmp_path / "bench" / "n01443537"
    bench.mkdir(parents=True)
    copied = np.asarray(Image.open(out / "n01443537" / "n01443537_0000001.png"))
    Image.fromarray(np.clip(copied.astype(int) + 2, 0, 255).astype(np.uint8)).save(bench / "near.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
        bench / "other.png"
    )

    report = audit_generated(out, tmp_path / "bench", max_distance=2)
    assert report["generated"] == 6 and report["benchmark"] == 2
    assert {
        "generated": "n01443537/n01443537_0000001.png",
        "benchmark": "n01443537/near.png",
        "distance": 0,
    } in report["matches"] or any(
        m["generated"].endswith("n01443537_0000001.png") and m["benchmark"].endswith("near.png")
        for m in report["matches"]
    )
    assert all(not m["benchmark"].endswith("other.png") for m in report["matches"])
    cli_run = CliRunner().invoke(
        cli,
        [
            "data",
            "audit",
            "--generated",
            str(out),
            "--against",
            str(tmp_path / "bench"),
            "--max-distance",
            "2",
            "--json",
            "--report",
            str(tmp_path / "audit.json"),
        ],
    )
    assert cli_run.exit_code == 0, cli_run.output
    assert json.loads(cli_run.stdout) == json.loads((tmp_path / "audit.json").read_text()) == report
    strict = CliRunner().invoke(
        cli,
        [
            "data",
            "audit",
            "--generated",
            str(out),
            "--against",
            str(tmp_path / "bench"),
            "--max-distance",
            "2",
            "--strict",
        ],
    )
    assert strict.exit_code == 1 and "near-copies" in strict.output

    result = dedup_generated(out, max_distance=0)
    assert result["dropped"] >= 1 and not (cls / "n01440764_0000002.png").exists()
    assert (cls / "n01440764_0000000.png").exists()
    dropped = json.loads((out / "_meta" / "dedup.json").read_text())["dropped_files"]
    assert {
        "file": "n01440764/n01440764_0000002.png",
        "duplicate_of": "n01440764/n01440764_0000000.png",
        "distance": 0,
    } in dropped
    # A rerun does not take what --dedup deleted on purpose for damage to repair.
    rerun = run_job(cfg, progress=False)
    assert rerun["repaired"]["images"] == 0 and rerun["images"] == 0
    assert not (cls / "n01440764_0000002.png").exists()


def test_an_sdxl_turbo_job_records_its_pipeline_and_verifies_against_diffusers(tmp_path, classes_file):
    """The README's Turbo job on the tiny SDXL: one step, guidance 0; the metadata alone reproduces it."""
    out = tmp_path / "xl"
    args = ["--model", "tiny-sdxl", "--classes", classes_file, "--per-class", "1", "--scheduler", "turbo"]
    args += ["--steps", "1", "--guidance", "0", "--backend", "torch", "--image-format", "png", "--out", out]
    result = _generate(*args, "--verify-against-diffusers", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 2
    assert summary["verify"]["results"][0]["max_abs_diff"] <= 1
    records = [json.loads(line) for p in sorted(out.rglob("*.jsonl")) for line in p.read_text().splitlines()]
    assert {r["pipeline_class"] for r in records} == {"StableDiffusionXLPipeline"}
    assert {r["scheduler_class"] for r in records} == {"EulerAncestralDiscreteScheduler"}
    assert all(r["scheduler_config"]["timestep_spacing"] == "trailing" and r["steps"] == 1 for r in records)
