"""Generation jobs end to end on the tiny model: strategies, metadata, shards, determinism, resume,
conflicts."""

import hashlib
import json
from pathlib import Path

import pytest

from genrobust_fast.errors import DatasetError, JobConflictError
from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.generation.job import run_job
from genrobust_fast.generation.worklist import build_plan

RECORD_KEYS = {
    "file",
    "class_id",
    "class_name",
    "index",
    "strategy",
    "prompt",
    "template_id",
    "negative_prompt",
    "source_image",
    "seed",
    "steps",
    "scheduler",
    "guidance",
    "strength",
    "model_id",
    "weights_hash",
    "backend",
    "precision",
    "height",
    "width",
    "sha256",
    "pipeline_class",
    "scheduler_class",
    "scheduler_config",
}


@pytest.fixture(scope="module")
def classes_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("classes") / "classes.tsv"
    path.write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    return path


def _cfg(out, classes_file, **kw):
    base = {
        "model": "tiny",
        "classes": str(classes_file),
        "per_class": 3,
        "steps": 2,
        "batch_size": 2,
        "backend": "torch",
        "out": str(out),
        "writer_threads": 2,
    }
    return GenerateConfig(**{**base, **kw})


def records_of(out: Path) -> list[dict]:
    return [
        json.loads(line)
        for f in sorted((out / "_meta").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


@pytest.mark.parametrize("strategy", ["labels", "templates", "prompts", "img2img", "variation"])
def test_each_strategy_writes_complete_metadata(tmp_path, classes_file, real_dir, strategy):
    extra = {}
    if strategy == "prompts":
        prompts = tmp_path / "prompts.tsv"
        prompts.write_text("n01440764\ta tench on a plate\nn01443537\ta goldfish in a bowl\n")
        extra["prompts"] = str(prompts)
    if strategy in ("img2img", "variation"):
        extra.update(real=str(real_dir), strength=0.5 if strategy == "img2img" else 0.75, steps=4)
    cfg = _cfg(tmp_path / "out", classes_file, strategy=strategy, negative_prompt="blurry", **extra)
    summary = run_job(cfg, progress=False)
    expected = 5 if strategy in ("img2img", "variation") else 6
    assert summary["images"] == expected and summary["failures"] == 0 and summary["shards_complete"] == 1
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "genrobust-generated/1" and manifest["total_images"] == expected
    assert (
        manifest["label_space"]["ids"] == ["n01440764", "n01443537"]
        and manifest["output_format"] == "imagefolder"
    )
    records = records_of(out)
    assert len(records) == expected
    for r in records:
        assert set(r) >= RECORD_KEYS
        data = (out / r["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"] and data[:2] == b"\xff\xd8"
        assert r["file"] == f"{r['class_id']}/{r['class_id']}_{r['index']:07d}.jpg"
        assert r["strategy"] == strategy and r["height"] == r["width"] == 32
    if strategy == "templates":
        assert all(r["template_id"] == r["seed"] % 80 for r in records)
    if strategy in ("img2img", "variation"):
        assert {r["source_image"] for r in records} == {
            str(p.relative_to(real_dir)) for p in real_dir.glob("*/*.png")
        }
        assert records[0]["pipeline_class"] == (
            "StableDiffusionImg2ImgPipeline"
            if strategy == "img2img"
            else "StableDiffusionImageVariationPipeline"
        )
    if strategy == "variation":
        assert all(r["prompt"] is None for r in records)
    else:
        assert all(r["negative_prompt"] == "blurry" and r["prompt"] for r in records)
    assert (out / "_meta" / "shard-00000-of-00001.done.json").exists()
    assert not (out / "_meta" / "tmp").exists()


def test_worker_shards_union_equals_a_single_run_byte_for_byte(tmp_path, classes_file, files_of):
    # Same speed settings (batch size, threads) everywhere: bytes are promised. Across batch sizes only a
    # pixel bound is (tests/generation/test_reproducibility.py).
    run_job(_cfg(tmp_path / "single", classes_file, shards=3), progress=False)
    for k in range(3):
        run_job(_cfg(tmp_path / "workers", classes_file, shard=f"{k}/3"), progress=False)
    single, workers = files_of(tmp_path / "single"), files_of(tmp_path / "workers")
    manifests = [json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("single", "workers")]
    assert manifests[0]["job_id"] == manifests[1]["job_id"] and manifests[0]["num_shards"] == 3
    assert single == workers
    images = [f for f in single if f.endswith(".jpg")]
    assert len(images) == 6 and len({single[f] for f in images}) == 6


def test_worker_runs_only_its_shards(tmp_path, classes_file):
    cfg = _cfg(tmp_path / "out", classes_file, shard="1/2")
    summary = run_job(cfg, progress=False)
    assert summary["images"] == 3 and summary["shards_complete"] == 1 and summary["num_shards"] == 2
    plan = build_plan(GenerateConfig(**{**cfg.__dict__, "shards": 2}))
    assert {
        plan.shard_of(plan.position_of(r["class_id"], r["index"])) for r in records_of(tmp_path / "out")
    } == {1}
    assert sorted(p.name for p in (tmp_path / "out" / "_meta").glob("*.done.json")) == [
        "shard-00001-of-00002.done.json"
    ]


@pytest.mark.parametrize("fmt", ["imagefolder", "webdataset"])
def test_interrupted_job_resumes_to_identical_files(tmp_path, classes_file, files_of, fmt):
    full = _cfg(tmp_path / "full", classes_file, format=fmt)
    run_job(full, progress=False)
    part = _cfg(tmp_path / "part", classes_file, format=fmt)
    assert run_job(part, progress=False, max_images=4)["images"] == 4
    assert not list((tmp_path / "part" / "_meta").glob("*.done.json"))
    with open(next((tmp_path / "part" / "_meta").glob("*.jsonl")), "ab") as f:
        f.write(b'{"file": "torn li')  # a write cut off by a crash
    assert run_job(part, progress=False)["images"] == 2
    assert run_job(part, progress=False)["images"] == 0  # complete: nothing left
    assert files_of(tmp_path / "full") == files_of(tmp_path / "part")
    if fmt == "webdataset":
        import tarfile

        with tarfile.open(tmp_path / "part" / "shards" / "shard-00000-of-00001.tar") as tar:
            names = tar.getnames()
        assert len(names) == 12 and names[:2] == [n.replace(".json", ".jpg") for n in names[1:2]] + names[1:2]


def test_unreadable_real_image_fails_that_image_then_retries(tmp_path, classes_file, real_dir):
    import shutil

    real = tmp_path / "real"
    shutil.copytree(real_dir, real)
    good = (real / "n01443537" / "img_1.png").read_bytes()
    (real / "n01443537" / "img_1.png").write_bytes(b"not an image")
    cfg = _cfg(tmp_path / "out", classes_file, strategy="variation", real=str(real))
    summary = run_job(cfg, progress=False)
    assert summary["failures"] == 1 and summary["images"] == 4 and summary["shards_complete"] == 0
    (real / "n01443537" / "img_1.png").write_bytes(good)
    summary = run_job(cfg, progress=False)
    assert summary["failures"] == 0 and summary["images"] == 1 and summary["shards_complete"] == 1


def test_output_folder_of_another_job_is_rejected(tmp_path, classes_file):
    run_job(_cfg(tmp_path / "out", classes_file, per_class=1), progress=False)
    with pytest.raises(JobConflictError, match="seed"):
        run_job(_cfg(tmp_path / "out", classes_file, per_class=1, seed=5), progress=False)
    with pytest.raises(JobConflictError, match="shards"):
        run_job(_cfg(tmp_path / "out", classes_file, per_class=1, shards=4), progress=False)


def test_a_moved_class_file_is_the_same_job_and_an_edited_one_is_not(tmp_path, classes_file):
    out = tmp_path / "out"
    first = run_job(_cfg(out, classes_file, per_class=1), progress=False)
    moved = tmp_path / "elsewhere" / "classes.tsv"
    moved.parent.mkdir()
    moved.write_bytes(Path(classes_file).read_bytes())
    again = run_job(_cfg(out, moved, per_class=1), progress=False)
    assert again["job_id"] == first["job_id"] and again["images"] == 0  # resumed: nothing left to do
    edited = tmp_path / "edited.tsv"
    edited.write_text(Path(classes_file).read_text().splitlines()[0] + "\n")
    with pytest.raises(JobConflictError, match="label_space_sha256"):
        run_job(_cfg(out, edited, per_class=1), progress=False)


def test_unwritable_output_is_a_clear_error(tmp_path, classes_file):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match="cannot write to the output folder"):
        run_job(_cfg(blocker / "out", classes_file), progress=False)


def test_precision_is_part_of_what_a_job_makes(tmp_path, classes_file):
    out = tmp_path / "out"
    assert run_job(_cfg(out, classes_file, precision="fp32"), progress=False, max_images=2)["images"] == 2
    assert json.loads((out / "manifest.json").read_text())["precision"] == "fp32"
    with pytest.raises(JobConflictError, match="generated in fp32, this run would add bf16"):
        run_job(_cfg(out, classes_file, precision="bf16"), progress=False)
    assert run_job(_cfg(out, classes_file, precision="fp32"), progress=False)["images"] == 4  # resumes


def test_damaged_weights_stop_the_job_instead_of_writing_garbage(tmp_path, classes_file, tiny_dir):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    model = tmp_path / "damaged"
    shutil.copytree(tiny_dir, model)
    weights = model / "vae" / "diffusion_pytorch_model.safetensors"
    state = load_file(str(weights))
    name = next(k for k in state if k.startswith("decoder.conv_out"))
    state[name] = torch.full_like(state[name], float("nan"))  # what a corrupt download can hold
    save_file(state, str(weights))
    with pytest.raises(DatasetError, match="not finite or are one flat colour.*weights are likely damaged"):
        run_job(_cfg(tmp_path / "out", classes_file, model=str(model)), progress=False)
    assert not list((tmp_path / "out").glob("n*/*.jpg"))


def test_an_error_mid_job_keeps_the_images_already_made(tmp_path, classes_file, monkeypatch):
    from genrobust_fast.generation.pipeline import GenerationPipeline

    decode, calls = GenerationPipeline.decode, []

    def second_batch_breaks(self, latents):
        calls.append(1)
        images = decode(self, latents)
        return images * float("nan") if len(calls) == 2 else images

    monkeypatch.setattr(GenerationPipeline, "decode", second_batch_breaks)
    out = tmp_path / "out"
    with pytest.raises(DatasetError, match="not finite"):
        run_job(_cfg(out, classes_file), progress=False)
    assert len(records_of(out)) == 2  # the first batch was stored and is recorded, not thrown away
    monkeypatch.setattr(GenerationPipeline, "decode", decode)
    assert run_job(_cfg(out, classes_file), progress=False)["images"] == 4
