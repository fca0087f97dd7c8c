"""Our pipeline equals diffusers' pipelines on the same model folder (fp32, torch, CPU), per image."""

import numpy as np
import pytest
import torch

from genrobust_fast import kernels
from genrobust_fast.engines import TorchRunners, load_components
from genrobust_fast.engines.models import diffusers_pipeline
from genrobust_fast.generation.diffusers_parity import max_pixel_diff, pixel_tolerance
from genrobust_fast.generation.pipeline import GenerationPipeline, Request, load_source_image
from genrobust_fast.generation.schedulers import create_scheduler

STEPS = 3


def _diffusers_uint8(pipe, **kwargs) -> np.ndarray:
    image = pipe(num_inference_steps=STEPS, output_type="np", **kwargs).images[0]
    return (image * 255).round().astype(np.uint8)  # what output_type="pil" does


@pytest.fixture(scope="module")
def folder_components(tiny_dir):
    return load_components(tiny_dir)


@pytest.fixture(scope="module")
def sd_pipe(tiny_dir):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        tiny_dir, local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _assert_close(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert theirs.std() > 2, "degenerate reference image: the comparison would prove nothing"
    assert max_pixel_diff(ours, theirs) <= pixel_tolerance("torch", "fp32")


@pytest.mark.parametrize("scheduler", ["ddim", "pndm", "euler", "dpm++", "euler_a"])
def test_text_to_image_matches_diffusers_in_a_batch(folder_components, sd_pipe, scheduler):
    pipe = GenerationPipeline(TorchRunners(folder_components), scheduler=scheduler, steps=STEPS, guidance=7.5)
    requests = [Request("a photo of a tench", 11, "blurry"), Request("a photo of a goldfish", 2**62 + 5)]
    ours = kernels.to_uint8(pipe.generate(requests))
    sd_pipe.scheduler = create_scheduler(scheduler, sd_pipe.scheduler.config)
    for image, req in zip(ours, requests):
        theirs = _diffusers_uint8(
            sd_pipe,
            prompt=req.prompt,
            negative_prompt=req.negative_prompt or None,
            guidance_scale=7.5,
            generator=[torch.Generator("cpu").manual_seed(req.seed)],
        )
        _assert_close(image, theirs)
    assert not np.array_equal(ours[0], ours[1])


def test_batch_of_one_equals_batch_member_and_no_guidance(folder_components, sd_pipe):
    pipe = GenerationPipeline(TorchRunners(folder_components), scheduler="ddim", steps=STEPS, guidance=1.0)
    alone = kernels.to_uint8(pipe.generate([Request("a photo of a goldfish", 7)]))[0]
    batch = kernels.to_uint8(
        pipe.generate([Request("a photo of a tench", 3), Request("a photo of a goldfish", 7)])
    )[1]
    assert max_pixel_diff(alone, batch) <= pixel_tolerance("torch", "fp32")
    sd_pipe.scheduler = create_scheduler("ddim", sd_pipe.scheduler.config)
    theirs = _diffusers_uint8(
        sd_pipe,
        prompt="a photo of a goldfish",
        guidance_scale=1.0,
        generator=torch.Generator("cpu").manual_seed(7),
    )
    _assert_close(alone, theirs)


@pytest.mark.parametrize("scheduler", ["pndm", "dpm++"])
def test_img2img_matches_diffusers(tiny_dir, folder_components, real_dir, scheduler):
    from diffusers import StableDiffusionImg2ImgPipeline

    pipe = GenerationPipeline(
        TorchRunners(folder_components),
        scheduler=scheduler,
        steps=4,
        guidance=7.5,
        mode="img2img",
        strength=0.6,
    )
    sources = [load_source_image(p, (32, 32), "img2img") for p in sorted(real_dir.glob("*/*.png"))[:2]]
    requests = [
        Request("a photo of a tench", 5, "", sources[0]),
        Request("a photo of a goldfish", 6, "", sources[1]),
    ]
    ours = kernels.to_uint8(pipe.generate(requests))
    ref = StableDiffusionImg2ImgPipeline.from_pretrained(
        tiny_dir, local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    ref.set_progress_bar_config(disable=True)
    ref.scheduler = create_scheduler(scheduler, ref.scheduler.config)
    for image, req in zip(ours, requests):
        theirs = (
            ref(
                prompt=req.prompt,
                image=req.image,
                strength=0.6,
                num_inference_steps=4,
                guidance_scale=7.5,
                generator=[torch.Generator("cpu").manual_seed(req.seed)],
                output_type="np",
            ).images[0]
            * 255
        )
        _assert_close(image, theirs.round().astype(np.uint8))


@pytest.mark.parametrize("scheduler", ["ddim", "euler"])
def test_variation_matches_diffusers(folder_components, real_dir, scheduler):
    from diffusers import StableDiffusionImageVariationPipeline

    c = folder_components
    ref = diffusers_pipeline(
        c, "StableDiffusionImageVariationPipeline", create_scheduler(scheduler, c.scheduler.config)
    )
    assert isinstance(ref, StableDiffusionImageVariationPipeline)
    pipe = GenerationPipeline(
        TorchRunners(c), scheduler=scheduler, steps=STEPS, guidance=3.0, mode="variation"
    )
    sources = [load_source_image(p, (32, 32), "variation") for p in sorted(real_dir.glob("*/*.png"))[2:4]]
    requests = [Request(None, 21, image=sources[0]), Request(None, 22, image=sources[1])]
    ours = kernels.to_uint8(pipe.generate(requests))
    for image, req in zip(ours, requests):
        theirs = _diffusers_uint8(
            ref, image=req.image, guidance_scale=3.0, generator=[torch.Generator("cpu").manual_seed(req.seed)]
        )
        _assert_close(image, theirs)
