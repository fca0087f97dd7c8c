"""Every model family against diffusers' own pipelines, from recorded seeds, on tiny in-code models.

SD 2.x (v-prediction, OpenCLIP-style text encoder), SDXL (two text encoders, pooled embeddings, time ids;
text-to-image and img2img), few-step (Turbo: trailing Euler ancestral, guidance 0, one step; LCM with and
without a guidance embedding). The reference is the diffusers pipeline loaded from the saved model folder
(SD 2.x, SDXL) or built on the same modules (`diffusers_pipeline`); the bound is the SD 1.x one
(`verify.pixel_tolerance`: 1/255 on torch fp32, 2/255 on ONNX Runtime fp32). Each family also has a check
that its own feature is what makes the images match (the comparison can fail).
"""

import numpy as np
import pytest
import torch

from genrobust_fast import kernels
from genrobust_fast.engines import TorchRunners, create_runners, load_components, save_components
from genrobust_fast.engines.models import diffusers_pipeline
from genrobust_fast.engines.specs import component_specs
from genrobust_fast.generation.diffusers_parity import max_pixel_diff, pixel_tolerance
from genrobust_fast.generation.pipeline import GenerationPipeline, Request, load_source_image
from genrobust_fast.generation.schedulers import create_scheduler

REQUESTS = [Request("a photo of a tench", 11, "blurry"), Request("a photo of a goldfish", 2**62 + 5)]


def _theirs(pipe, request: Request, steps: int, guidance: float, **kwargs) -> np.ndarray:
    image = pipe(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt or None,  # as verify passes a recorded "" (SDXL: zeros)
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=[torch.Generator("cpu").manual_seed(request.seed)],
        output_type="np",
        **kwargs,
    ).images[0]
    return (image * 255).round().astype(np.uint8)  # what output_type="pil" does


def _worst(pipe: GenerationPipeline, reference, steps: int, guidance: float, requests=REQUESTS, **kw) -> int:
    """Largest pixel difference over `requests`, each image checked to be no flat, degenerate one."""
    ours = kernels.to_uint8(pipe.generate(requests))
    assert not np.array_equal(ours[0], ours[1])
    worst = 0
    for image, request in zip(ours, requests):
        extra = {"image": request.image, **kw} if request.image is not None else kw
        theirs = _theirs(reference, request, steps, guidance, **extra)
        assert theirs.std() > 2, "degenerate reference image: the comparison would prove nothing"
        worst = max(worst, max_pixel_diff(image, theirs))
    return worst


@pytest.fixture(scope="module")
def sd2_dir(tmp_path_factory):
    return save_components(load_components("tiny-sd2"), tmp_path_factory.mktemp("tiny-sd2"))


@pytest.fixture(scope="module")
def sdxl_dir(tmp_path_factory):
    return save_components(load_components("tiny-sdxl"), tmp_path_factory.mktemp("tiny-sdxl"))


def _from_pretrained(cls_name: str, folder):
    import diffusers

    pipe = getattr(diffusers, cls_name).from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_sd2_v_prediction_matches_diffusers_from_the_saved_folder(sd2_dir):
    comps = load_components(sd2_dir)
    assert comps.family == "sd2" and type(comps.scheduler).__name__ == "DDIMScheduler"
    assert comps.scheduler.config.prediction_type == "v_prediction" and comps.tokenizer.pad_token == "!"
    reference = _from_pretrained("StableDiffusionPipeline", sd2_dir)
    pipe = GenerationPipeline(TorchRunners(comps), scheduler="ddim", steps=3, guidance=7.5)
    assert _worst(pipe, reference, 3, 7.5) <= pixel_tolerance("torch", "fp32")
    # The prediction type is what matches: read as epsilon, the same weights give other images.
    comps.scheduler.register_to_config(prediction_type="epsilon")
    wrong = kernels.to_uint8(GenerationPipeline(TorchRunners(comps), "ddim", 3, 7.5).generate(REQUESTS[:1]))
    assert max_pixel_diff(wrong[0], _theirs(reference, REQUESTS[0], 3, 7.5)) > 8


def test_sdxl_matches_diffusers_from_the_saved_folder_and_zeroes_an_empty_negative(sdxl_dir):
    comps = load_components(sdxl_dir)
    assert comps.family == "sdxl" and comps.vae_needs_fp32 and comps.tokenizer_2.pad_token == "!"
    reference = _from_pretrained("StableDiffusionXLPipeline", sdxl_dir)
    pipe = GenerationPipeline(TorchRunners(comps), scheduler="euler", steps=3, guidance=5.0)
    assert pipe.pipeline_class == "StableDiffusionXLPipeline"
    assert _worst(pipe, reference, 3, 5.0) <= pixel_tolerance("torch", "fp32")
    # REQUESTS[1] has an empty negative prompt: zeros (force_zeros_for_empty_prompt), not the encoded "".
    ours = kernels.to_uint8(pipe.generate(REQUESTS[1:]))[0]
    explicit = reference(
        prompt=REQUESTS[1].prompt,
        negative_prompt="",
        num_inference_steps=3,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(REQUESTS[1].seed),
        output_type="np",
    ).images[0]
    assert max_pixel_diff(ours, (explicit * 255).round().astype(np.uint8)) > 1


def test_sdxl_img2img_matches_diffusers(sdxl_dir, real_dir):
    comps = load_components(sdxl_dir)
    reference = _from_pretrained("StableDiffusionXLImg2ImgPipeline", sdxl_dir)
    reference.scheduler = create_scheduler("dpm++", comps.scheduler.config)
    pipe = GenerationPipeline(
        TorchRunners(comps), "dpm++", steps=4, guidance=5.0, mode="img2img", strength=0.6
    )
    assert pipe.pipeline_class == "StableDiffusionXLImg2ImgPipeline"
    sources = [load_source_image(p, (32, 32), "img2img") for p in sorted(real_dir.glob("*/*.png"))[:2]]
    requests = [
        Request("a photo of a tench", 5, "", sources[0]),
        Request("a photo of a goldfish", 6, "", sources[1]),
    ]
    assert _worst(pipe, reference, 4, 5.0, requests, strength=0.6) <= pixel_tolerance("torch", "fp32")


@pytest.mark.parametrize(
    "model,scheduler,steps,guidance",
    [
        ("tiny", "turbo", 1, 0.0),  # SD-Turbo's recipe: one trailing step from t=999, no guidance
        ("tiny-sdxl", "turbo", 2, 0.0),  # SDXL-Turbo's
        ("tiny", "lcm", 2, 1.0),  # an LCM-LoRA on an SD 1.x UNet: LCMScheduler, guidance off
        ("tiny-lcm", "lcm", 2, 4.0),  # an LCM UNet: guidance through its w-embedding, no uncond batch
    ],
)
def test_few_step_schedules_match_diffusers(model, scheduler, steps, guidance):
    comps = load_components(model)
    pipe = GenerationPipeline(TorchRunners(comps), scheduler=scheduler, steps=steps, guidance=guidance)
    assert not pipe.do_guidance  # batch, not 2 x batch: what the engines are built for (--no-guidance)
    reference = diffusers_pipeline(
        comps, pipe.pipeline_class, create_scheduler(scheduler, comps.scheduler.config)
    )
    assert _worst(pipe, reference, steps, guidance) <= pixel_tolerance("torch", "fp32")
    if scheduler == "turbo":
        assert create_scheduler("turbo", comps.scheduler.config).config.timestep_spacing == "trailing"


def test_model_scheduler_is_the_one_the_folder_ships(sdxl_dir):
    """`--scheduler model`: an LCM model's LCMScheduler, SDXL's Euler, as their folders name them."""
    lcm = load_components("tiny-lcm")
    pipe = GenerationPipeline(TorchRunners(lcm), scheduler="model", steps=2, guidance=4.0)
    assert pipe.scheduler_name == "LCMScheduler" and pipe.describe()["scheduler_class"] == "LCMScheduler"
    assert _worst(pipe, diffusers_pipeline(lcm, pipe.pipeline_class), 2, 4.0) <= pixel_tolerance(
        "torch", "fp32"
    )
    sdxl = GenerationPipeline(TorchRunners(load_components(sdxl_dir)), scheduler="model", steps=1)
    assert sdxl.scheduler_name == "EulerDiscreteScheduler"


def test_a_few_step_model_run_for_many_steps_is_warned_about(sdxl_dir, caplog):
    """The generate defaults are the paper's (PNDM, 50 steps): on a model that ships LCM or trailing
    spacing the job is told how such a model is sampled; a job sized for it, or another model, is not."""
    import logging

    from genrobust_fast.generation.schedulers import scheduler_advice

    lcm = load_components("tiny-lcm")
    with caplog.at_level(logging.WARNING, logger="genrobust_fast.generation.pipeline"):
        GenerationPipeline(TorchRunners(lcm), scheduler="pndm", steps=50)
    assert "ships a few-step sampler (LCMScheduler) but this job runs 50 steps" in caplog.text
    assert "--scheduler lcm --steps 4" in caplog.text
    assert scheduler_advice(lcm.scheduler, lcm.scheduler, 4) == []
    turbo = create_scheduler("euler_a_trailing", load_components(sdxl_dir).scheduler.config)
    assert "--scheduler turbo --steps 1 --guidance 0" in scheduler_advice(turbo, turbo, 50)[0]
    assert scheduler_advice(turbo, turbo, 1) == []
    for model in ("tiny", "tiny-sd2"):  # PNDM, DDIM leading: the defaults fit them
        shipped = load_components(model).scheduler
        assert scheduler_advice(shipped, create_scheduler("pndm", shipped.config), 50) == []


def test_a_zero_terminal_snr_model_sampled_by_a_class_that_ignores_it_is_warned_about():
    """PNDM keeps `rescale_betas_zero_snr` in its config (the record says True) but samples on the plain
    betas."""
    from genrobust_fast.generation.schedulers import few_step_sampler, scheduler_advice

    config = load_components("tiny-sd2").scheduler.config
    # As a zero-SNR model's scheduler_config.json says it (not among the keys left at their defaults)
    zero_snr = {k: v for k, v in config.items() if k != "_use_default_values"} | {
        "rescale_betas_zero_snr": True
    }
    shipped = create_scheduler("ddim", zero_snr)
    pndm = create_scheduler("pndm", shipped.config)
    assert pndm.config["rescale_betas_zero_snr"] and pndm.alphas_cumprod[-1] > 1e-3  # recorded, not applied
    assert shipped.alphas_cumprod[-1] < 1e-6
    (advice,) = scheduler_advice(shipped, pndm, 50)
    assert "PNDMScheduler cannot" in advice and "ddim" in advice.split("one of ")[1]
    assert scheduler_advice(shipped, create_scheduler("euler", shipped.config), 50) == []
    # Trailing spacing marks a distilled model only without zero-SNR betas (those sample so at any count)
    assert few_step_sampler(create_scheduler("euler_trailing", zero_snr)) is None
    assert (
        few_step_sampler(create_scheduler("euler_trailing", config))
        == "EulerDiscreteScheduler with trailing timesteps"
    )


def test_lcm_guidance_embedding_is_what_matches():
    """The w-embedding carries the guidance: another scale gives other images, as in diffusers."""
    comps = load_components("tiny-lcm")
    images = [
        kernels.to_uint8(GenerationPipeline(TorchRunners(comps), "lcm", 2, g).generate(REQUESTS[:1]))[0]
        for g in (1.5, 8.0)
    ]
    assert max_pixel_diff(*images) > 1


@pytest.mark.parametrize(
    "model,scheduler,guidance",
    [("tiny-sdxl", "euler", 5.0), ("tiny-sd2", "ddim", 7.5), ("tiny-lcm", "lcm", 4.0)],
)
def test_onnxruntime_families_match_diffusers(tmp_path, real_dir, model, scheduler, guidance):
    """Every component exported to ONNX (SDXL's second encoder with its two outputs, the UNets' added
    inputs) and run by ONNX Runtime; SDXL img2img too (its VAE encoder)."""
    comps = load_components(model)
    runners = create_runners(
        comps, backend="onnxruntime", device="cpu", engine_dir=tmp_path, build_if_missing=True
    )
    assert runners.backend == "onnxruntime" and set(runners.sessions) == set(component_specs(comps))
    pipe = GenerationPipeline(runners, scheduler=scheduler, steps=2, guidance=guidance)
    reference = diffusers_pipeline(
        comps, pipe.pipeline_class, create_scheduler(scheduler, comps.scheduler.config)
    )
    assert _worst(pipe, reference, 2, guidance) <= pixel_tolerance("onnxruntime", "fp32")
    if model == "tiny-sdxl":
        pipe = GenerationPipeline(
            runners, scheduler, steps=3, guidance=guidance, mode="img2img", strength=0.7
        )
        reference = diffusers_pipeline(
            comps, pipe.pipeline_class, create_scheduler(scheduler, comps.scheduler.config)
        )
        sources = [load_source_image(p, (32, 32), "img2img") for p in sorted(real_dir.glob("*/*.png"))[2:4]]
        requests = [
            Request("a photo of a tench", 7, "", sources[0]),
            Request("a goldfish", 8, "", sources[1]),
        ]
        assert _worst(pipe, reference, 3, guidance, requests, strength=0.7) <= pixel_tolerance(
            "onnxruntime", "fp32"
        )


def test_sdxl_has_no_variation_mode():
    from genrobust_fast.errors import InputError

    sdxl = load_components("tiny-sdxl")
    with pytest.raises(InputError, match="sdxl models have no 'variation' mode; use text or img2img"):
        sdxl.pipeline_class("variation")
    with pytest.raises(InputError, match="no image_encoder/feature_extractor, which strategy 'variation'"):
        GenerationPipeline(TorchRunners(sdxl), mode="variation")
