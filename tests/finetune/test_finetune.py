"""Generator finetuning on the tiny model: output folder, no-op rerun, resume after SIGKILL, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file

from genrobust_fast.cli.main import cli
from genrobust_fast.engines.builtin import build_tiny
from genrobust_fast.engines.models import load_components
from genrobust_fast.errors import ConfigError, DatasetError, JobConflictError
from genrobust_fast.finetune import FinetuneConfig, finetune_generator
from genrobust_fast.finetune.trainer import _BatchOrder


def write_real(root: Path, classes=("cat", "dog"), per_class=3, size=40) -> Path:
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8) // (c + 1)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def tiny_cfg(tmp_path, **kw):
    values = {
        "model": "tiny",
        "real": str(tmp_path / "real"),
        "out": str(tmp_path / "out"),
        "steps": 3,
        "batch_size": 2,
        "lr": 1e-3,
        "checkpoint_every": 2,
        "num_threads": 1,
    }
    values.update(kw)
    return FinetuneConfig(**values)


@pytest.fixture
def real(tmp_path):
    return write_real(tmp_path / "real")


def test_finetune_writes_a_loadable_folder_with_changed_unet(tmp_path, real):
    cfg = tiny_cfg(tmp_path, ema_decay=0.5, caption_dropout=0.3)
    out = finetune_generator(cfg)
    info = json.loads((out / "finetune.json").read_text())
    assert info["steps"] == 3 and info["images"] == 6
    assert info["label_space"]["names"] == ["cat", "dog"]
    loaded = load_components(out)
    base = build_tiny()
    assert loaded.weights_hash() == info["weights_hash"] != info["base_weights_hash"]
    changed = [
        k for k, v in loaded.unet.state_dict().items() if not torch.equal(v, base.unet.state_dict()[k])
    ]
    assert changed, "finetuning left the UNet unchanged"
    # Frozen parts are exported untouched.
    for k, v in base.vae.state_dict().items():
        assert torch.equal(v, loaded.vae.state_dict()[k]), k
    # Rerunning the finished job does nothing (the result file is not rewritten).
    before = (out / "finetune.json").stat().st_mtime_ns
    finetune_generator(cfg)
    assert (out / "finetune.json").stat().st_mtime_ns == before


def test_cached_latents_give_the_same_training_as_per_batch_encoding(tmp_path, real):
    a = finetune_generator(tiny_cfg(tmp_path, out=str(tmp_path / "a"), cache_latents=False))
    b = finetune_generator(tiny_cfg(tmp_path, out=str(tmp_path / "b"), cache_latents=True))
    ua, ub = (
        load_file(str(a / "unet" / "diffusion_pytorch_model.safetensors")),
        load_file(str(b / "unet" / "diffusion_pytorch_model.safetensors")),
    )
    for key in ua:
        torch.testing.assert_close(ua[key], ub[key], atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path, real, run_killed, caplog):
    steps, killed_at = 8, 3
    killed_out = tmp_path / "killed"
    args = [
        "generator",
        "finetune",
        "--model",
        "tiny",
        "--real",
        str(real),
        "--out",
        str(killed_out),
        "--steps",
        str(steps),
        "--batch-size",
        "2",
        "--lr",
        "1e-3",
        "--checkpoint-every",
        "1",
        "--threads",
        "1",
    ]
    # Killed right after its third checkpoint is committed (the fourth step may be under way: it is lost).
    run_killed(args, "genrobust_fast.finetune.trainer.save_state", at=killed_at, when="after")
    assert json.loads((killed_out / "_finetune" / "latest.json").read_text())["step"] == killed_at
    assert not (killed_out / "finetune.json").exists()

    with caplog.at_level("INFO"):  # the resume runs the same CLI command in this process
        resumed = CliRunner().invoke(cli, args)
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming at step {killed_at} of {steps}" in caplog.text
    ref = finetune_generator(
        tiny_cfg(tmp_path, out=str(tmp_path / "ref"), steps=steps, checkpoint_every=1000)
    )
    got = load_file(str(killed_out / "unet" / "diffusion_pytorch_model.safetensors"))
    want = load_file(str(ref / "unet" / "diffusion_pytorch_model.safetensors"))
    for key in want:
        torch.testing.assert_close(got[key], want[key], atol=1e-6, rtol=1e-5)


def test_batch_order_visits_every_image_once_per_epoch():
    order = _BatchOrder(n=10, batch_size=4, seed=3)
    seen = [i for step in range(5) for i in order.batch(step)]  # 20 positions = 2 epochs
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:]  # a fresh permutation per epoch
    assert _BatchOrder(10, 4, 3).batch(3) == order.batch(3)  # a resumed run draws the same batch


def test_output_holding_another_job_is_refused(tmp_path, real):
    finetune_generator(tiny_cfg(tmp_path, steps=1))
    with pytest.raises(JobConflictError, match="lr"):
        finetune_generator(tiny_cfg(tmp_path, steps=1, lr=5e-4))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(JobConflictError, match="not empty"):
        finetune_generator(tiny_cfg(tmp_path, out=str(foreign)))


def test_bad_inputs_are_clear_errors(tmp_path, real):
    (real / "empty_class").mkdir()
    with pytest.raises(DatasetError, match="empty_class"):
        finetune_generator(tiny_cfg(tmp_path))
    with pytest.raises(ConfigError, match="exactly one"):
        tiny_cfg(tmp_path, templates=("a photo",))
    with pytest.raises(ConfigError, match="--real"):
        finetune_generator(FinetuneConfig(out=str(tmp_path / "x")))
    with pytest.raises(ConfigError, match="bf16"):
        tiny_cfg(tmp_path, precision="fp16")


def test_images_with_their_own_caption_are_trained_on_it(tmp_path, real, monkeypatch):
    from genrobust_fast.finetune import trainer

    captions = {"cat/0.png": "a sketch of a cat.", "dog/2.png": "a negative photo of a dog."}
    (real / "metadata.jsonl").write_text(
        "".join(json.dumps({"file_name": f, "text": t}) + "\n" for f, t in captions.items())
    )
    seen = []
    original = trainer._TextEmbeddings.__call__

    def record(self, batch, *rest):
        seen.extend(batch)
        return original(self, batch, *rest)

    monkeypatch.setattr(trainer._TextEmbeddings, "__call__", record)
    # 3 steps of 2 images: one epoch, every image exactly once.
    finetune_generator(tiny_cfg(tmp_path, templates=("a photo of a {}",)))
    expected = list(captions.values()) + ["a photo of a cat"] * 2 + ["a photo of a dog"] * 2
    assert sorted(seen) == sorted(expected)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "is not a caption line"),
        ('{"file_name": "cat/0.png"}', "is not a caption line"),
        ('{"file_name": "cat/9.png", "text": "a cat"}', "which is not an image of"),
    ],
)
def test_a_bad_caption_file_is_one_clear_error_naming_the_line(tmp_path, real, line, message):
    from genrobust_fast.finetune.data import CaptionedImages

    (real / "metadata.jsonl").write_text('{"file_name": "cat/1.png", "text": "ok"}\n' + line + "\n")
    with pytest.raises(DatasetError, match=message) as err:
        CaptionedImages.scan(real)
    assert "metadata.jsonl:2" in str(err.value)


def test_the_loss_target_follows_the_prediction_type():
    """v = sqrt(abar_t) * noise - sqrt(1 - abar_t) * x0, computed here from the betas, not by diffusers."""
    from diffusers import DDPMScheduler

    from genrobust_fast.engines.builtin import SD2_SCHEDULER_CONFIG, SD_SCHEDULER_CONFIG
    from genrobust_fast.finetune.trainer import loss_target

    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 8, generator=g)
    t = torch.tensor([0, 500, 999])
    v_schedule = DDPMScheduler.from_config(SD2_SCHEDULER_CONFIG)
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2  # scaled_linear
    abar = torch.cumprod(1 - betas, 0)[t].float().view(-1, 1, 1, 1)
    expected = abar.sqrt() * noise - (1 - abar).sqrt() * x0
    assert torch.allclose(loss_target(v_schedule, x0, noise, t), expected, atol=1e-5)
    assert loss_target(DDPMScheduler.from_config(SD_SCHEDULER_CONFIG), x0, noise, t) is noise
    sample = DDPMScheduler.from_config({**SD_SCHEDULER_CONFIG, "prediction_type": "sample"})
    assert loss_target(sample, x0, noise, t) is x0
    other = DDPMScheduler.from_config(SD_SCHEDULER_CONFIG)
    other.register_to_config(prediction_type="flow")
    with pytest.raises(ConfigError, match="prediction_type 'flow'"):
        loss_target(other, x0, noise, t)


def test_finetuning_a_v_prediction_model_keeps_its_scheduler(tmp_path, real):
    out = finetune_generator(tiny_cfg(tmp_path, model="tiny-sd2", steps=2))
    loaded = load_components(out)
    assert loaded.family == "sd2" and loaded.scheduler.config.prediction_type == "v_prediction"
    assert json.loads((out / "finetune.json").read_text())["weights_hash"] == loaded.weights_hash()


def test_finetuning_sdxl_conditions_as_generation_does(tmp_path, real):
    """Both text encoders, the pooled embedding and time ids: the captions' conditioning equals what the
    generation pipeline sends the UNet, and the run writes an SDXL folder with a changed UNet."""
    from genrobust_fast.engines.runners import TorchRunners
    from genrobust_fast.finetune.trainer import _TextEmbeddings
    from genrobust_fast.generation.conditioning import PromptEncoder

    comps = load_components("tiny-sdxl")
    captions = ["a photo of a cat", "", "a photo of a dog"]
    hidden, pooled = _TextEmbeddings(comps, torch.device("cpu"))(captions)
    expected_hidden, expected_pooled = PromptEncoder(TorchRunners(comps)).encode(captions)
    assert torch.allclose(hidden, expected_hidden, atol=1e-6) and torch.allclose(
        pooled, expected_pooled, atol=1e-6
    )
    out = finetune_generator(tiny_cfg(tmp_path, model="tiny-sdxl", steps=2, out=str(tmp_path / "xl")))
    loaded = load_components(out)
    assert loaded.family == "sdxl" and loaded.text_encoder_2 is not None
    base = load_components("tiny-sdxl")
    assert not torch.equal(loaded.unet.conv_in.weight, base.unet.conv_in.weight)
    assert torch.equal(
        loaded.text_encoder_2.text_projection.weight, base.text_encoder_2.text_projection.weight
    )
