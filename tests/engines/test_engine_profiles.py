"""Engine profiles cover every call the generation pipeline makes, and the README's commands meet.

The shapes are the pipeline's own calls, recorded on the CPU (torch backend), checked against the
TensorRT profile a job with that batch size asks for: guidance on and off, distinct and repeated
prompts, the negative prompt encoded alone, --batch-size 1, a short last batch.
"""

import json

import pytest
import torch
from click.testing import CliRunner

from genrobust_fast.engines.runners import TorchRunners
from genrobust_fast.engines.specs import ShapeProfile, component_specs, text_length
from genrobust_fast.engines.trt_runtime import check_shapes
from genrobust_fast.generation.pipeline import GenerationPipeline, Request


class RecordingRunners(TorchRunners):
    """TorchRunners that note each call's input shapes by component and input name (the UNet's added
    inputs and SDXL's second text encoder included)."""

    def __init__(self, components):
        super().__init__(components, "cpu", torch.float32)
        self.calls = []

    def encode_text(self, input_ids):
        self.calls.append(("text_encoder", {"input_ids": tuple(input_ids.shape)}))
        return super().encode_text(input_ids)

    def encode_text_2(self, input_ids):
        self.calls.append(("text_encoder_2", {"input_ids": tuple(input_ids.shape)}))
        return super().encode_text_2(input_ids)

    def unet(self, sample, timestep, context, **added):
        shapes = {"sample": sample.shape, "timestep": timestep.shape, "encoder_hidden_states": context.shape}
        self.calls.append(
            ("unet", {k: tuple(v) for k, v in {**shapes, **{k: x.shape for k, x in added.items()}}.items()})
        )
        return super().unet(sample, timestep, context, **added)

    def decode_vae(self, latents):
        self.calls.append(("vae_decoder", {"latent": tuple(latents.shape)}))
        return super().decode_vae(latents)


@pytest.mark.parametrize(
    "model,scheduler,batch_size,guidance",
    [
        ("tiny", "pndm", 3, 7.5),
        ("tiny", "pndm", 1, 7.5),
        ("tiny", "pndm", 3, 1.0),
        ("tiny-sdxl", "euler", 3, 5.0),  # two text encoders, text_embeds and time_ids doubled with the batch
        ("tiny-sdxl", "turbo", 3, 0.0),  # few-step: batch, not 2 x batch
        ("tiny-lcm", "lcm", 3, 4.0),  # guidance as an embedding: batch, not 2 x batch
    ],
)
def test_every_pipeline_call_fits_the_jobs_tensorrt_profile(tiny, model, scheduler, batch_size, guidance):
    from genrobust_fast.engines.models import load_components
    from genrobust_fast.generation.conditioning import doubles_batch

    tiny = tiny if model == "tiny" else load_components(model)
    runners = RecordingRunners(tiny)
    pipe = GenerationPipeline(runners, scheduler, steps=1, guidance=guidance)
    batches = [
        [
            Request("a tench", 1),
            Request("a goldfish", 2),
            Request("a tench", 3),
        ],  # distinct + repeated prompts
        [
            Request("a tench", 4),
            Request("a shark", 5, negative_prompt="blurry"),
        ],  # one new prompt, new negative
        [Request("a goldfish", 6)],  # the short last batch of a shard, every prompt cached
    ]
    for batch in batches:
        for start in range(0, len(batch), batch_size):
            pipe.generate(batch[start : start + batch_size])
    # what create_runners gets from a job with this --batch-size (generation/job.py)
    profile = ShapeProfile(batch=(1, batch_size, batch_size), guidance=doubles_batch(tiny, guidance))
    specs = component_specs(tiny)
    for component, shapes in runners.calls:
        profiles = specs[component].profile_shapes(profile, tiny.default_size, text_length(tiny))
        assert sorted(shapes) == sorted(profiles), component  # every input the spec lists, no other
        check_shapes(component, profiles, shapes, "REBUILD")  # raises InputError outside the profile
    text_batches = [shapes["input_ids"][0] for c, shapes in runners.calls if c == "text_encoder"]
    assert min(text_batches) == 1  # e.g. the negative prompt alone: the case a doubled profile missed
    assert max(text_batches) <= batch_size
    unet_batches = {shapes["sample"][0] for c, shapes in runners.calls if c == "unet"}
    assert max(unet_batches) == batch_size * (2 if guidance > 1 and model != "tiny-lcm" else 1)
    assert ("text_encoder_2" in {c for c, _ in runners.calls}) == (model == "tiny-sdxl")


def test_text_encoder_profile_takes_one_prompt_whatever_the_guidance(tiny):
    spec = component_specs(tiny)["text_encoder"]
    for guidance in (True, False):
        lo, opt, hi = spec.profile_shapes(ShapeProfile(batch=(4, 8, 16), guidance=guidance), (32, 32), 32)[
            "input_ids"
        ]
        assert (lo, opt, hi) == ((1, 32), (1, 32), (16, 32))


def test_readme_build_with_a_batch_range_then_generate_on_onnxruntime(tmp_path):
    """README: `engine build ... --batch 1:8:16` then `generate --batch-size 16 --backend ...` (here ONNX
    Runtime on the CPU; TensorRT's lookup: test_engine_tensorrt_fake.py)."""
    from genrobust_fast.cli.main import cli

    engines, out = tmp_path / "engines", tmp_path / "g"
    build = CliRunner().invoke(
        cli,
        [
            "engine",
            "build",
            "--model",
            "tiny",
            "--backend",
            "onnxruntime",
            "--batch",
            "1:8:16",
            "--engine-dir",
            str(engines),
        ],
    )
    assert build.exit_code == 0, build.output
    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\n")
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "--model",
            "tiny",
            "--classes",
            str(classes),
            "--per-class",
            "2",
            "--steps",
            "1",
            "--batch-size",
            "16",
            "--backend",
            "onnxruntime",
            "--device",
            "cpu",
            "--engine-dir",
            str(engines),
            "--image-format",
            "png",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 2 and summary["backend"] == "onnxruntime"
