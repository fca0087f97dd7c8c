"""Our generation job vs diffusers' StableDiffusionPipeline writing the same JPEG files, and vs the UNet bound.

    result = run_generate_benchmark(model="tiny", images=64, steps=10, batch=8)
    result["speedup_vs_diffusers"], result["overhead_vs_unet_bound"]

Correctness first: the first batch from both sides must agree within 1/255 per pixel (torch fp32) before
anything is timed. Both sides use the same modules, scheduler, steps, guidance and per-image seeds, and
both encode JPEG quality 95 files to disk. The UNet bound is the time of the UNet calls alone (same batch,
guidance doubling, steps) for the same number of images; overhead = end-to-end time / bound - 1.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _diffusers_run(comps, items, cfg, out: Path) -> float:
    import torch
    from diffusers import StableDiffusionPipeline

    from ..generation.schedulers import create_scheduler

    pipe = StableDiffusionPipeline(vae=comps.vae, text_encoder=comps.text_encoder, tokenizer=comps.tokenizer,
                                   unet=comps.unet, scheduler=create_scheduler(cfg.scheduler, comps.scheduler.config),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    started = time.perf_counter()
    for start in range(0, len(items), cfg.batch_size):
        batch = items[start:start + cfg.batch_size]
        images = pipe(prompt=[it.prompt for it in batch], negative_prompt=[cfg.negative_prompt] * len(batch),
                      num_inference_steps=cfg.steps, guidance_scale=cfg.guidance, height=cfg.size[0],
                      width=cfg.size[1], generator=[torch.Generator("cpu").manual_seed(it.seed) for it in batch]).images
        for it, image in zip(batch, images):
            folder = out / it.class_id
            folder.mkdir(parents=True, exist_ok=True)
            image.save(folder / f"{it.stem}.jpg", format="JPEG", quality=95)
    return time.perf_counter() - started


def _check_parity(pipe, comps, items, cfg) -> int:
    """Largest |ours - diffusers| (0-255) on the first batch."""
    import torch
    from diffusers import StableDiffusionPipeline

    from .. import kernels
    from ..generation.pipeline import Request
    from ..generation.schedulers import create_scheduler

    batch = items[:cfg.batch_size]
    ours = kernels.to_uint8(pipe.generate([Request(it.prompt, it.seed, cfg.negative_prompt) for it in batch]))
    ref = StableDiffusionPipeline(vae=comps.vae, text_encoder=comps.text_encoder, tokenizer=comps.tokenizer,
                                  unet=comps.unet, scheduler=create_scheduler(cfg.scheduler, comps.scheduler.config),
                                  safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    ref.set_progress_bar_config(disable=True)
    theirs = ref(prompt=[it.prompt for it in batch], negative_prompt=[cfg.negative_prompt] * len(batch),
                 num_inference_steps=cfg.steps, guidance_scale=cfg.guidance, height=cfg.size[0], width=cfg.size[1],
                 generator=[torch.Generator("cpu").manual_seed(it.seed) for it in batch], output_type="np").images
    theirs = (theirs * 255).round().astype(np.uint8)
    return int(np.abs(ours.astype(int) - theirs.astype(int)).max())


def _parity_tolerance(backend: str, precision: str) -> int | None:
    """Largest pixel difference (0-255) from diffusers that lets a run be timed: the parity guarantee for
    torch fp32, one more level for other fp32 backends (a different kernel order), none below fp32, where
    differences are expected and only reported."""
    if precision != "fp32":
        return None
    return 1 if backend == "torch" else 2


def _unet_bound(pipe, cfg, n_images: int) -> float:
    """Seconds of UNet calls alone for n_images: calls of the job's batch shape, times steps."""
    import torch

    runners = pipe.runners
    batch = cfg.batch_size * (2 if cfg.guidance > 1 else 1)
    sample = torch.randn((batch, *pipe.latent_shape), dtype=runners.dtype).to(runners.device)
    context = pipe.encode_prompts(["a photo of a tench"] * batch)
    t = torch.full((batch,), 500, dtype=torch.int64, device=runners.device)
    runners.unet(sample, t, context)  # warm-up
    n_batches = -(-n_images // cfg.batch_size)
    calls = min(n_batches * cfg.steps, max(cfg.steps, 20))  # a sample of calls, scaled up
    pipe._sync()
    started = time.perf_counter()
    for _ in range(calls):
        runners.unet(sample, t, context)
    pipe._sync()
    return (time.perf_counter() - started) / calls * n_batches * cfg.steps


def run_generate_benchmark(model: str = "tiny", images: int = 64, steps: int = 10, batch: int = 8,
                           scheduler: str = "pndm", guidance: float = 7.5, backend: str = "auto",
                           precision: str | None = None, device: str = "auto", size: tuple[int, int] | None = None,
                           out_dir: str | None = None, quick: bool = False,
                           engine_dir: str = "engines") -> dict[str, Any]:
    from ..generation.config import GenerateConfig
    from ..generation.job import create_pipeline, run_job
    from ..generation.worklist import build_plan

    if quick:
        images, steps = min(images, 16), min(steps, 4)
    tmp = Path(out_dir or tempfile.mkdtemp(prefix="genrobust-bench-generate-"))
    try:
        cfg = GenerateConfig(model=model, classes="imagenet", per_class=1, steps=steps, batch_size=batch,
                             scheduler=scheduler, guidance=guidance, backend=backend, precision=precision,
                             device=device, size=size, out=str(tmp / "warm-ours"), shards=1,
                             engine_dir=engine_dir)
        plan = build_plan(cfg)
        items = [plan.item_at(p) for p in range(images)]
        comps, runners, pipe = create_pipeline(cfg, build_if_missing=True)  # builds are not timed
        cfg = GenerateConfig(**{**cfg.__dict__, "size": (pipe.height, pipe.width)})
        max_diff = _check_parity(pipe, comps, items, cfg)
        tolerance = _parity_tolerance(runners.backend, runners.precision)
        if tolerance is not None and max_diff > tolerance:
            raise AssertionError(f"our pipeline ({runners.backend} {runners.precision}) differs from diffusers by "
                                 f"{max_diff}/255 (tolerance {tolerance}); not timing a wrong result")
        # Ours: the real job (planning, encoding threads, metadata, markers) on the first `images` items.
        # Warm both sides on the same items (lazy kernel set-up), then time them on fresh folders.
        run_job(cfg, progress=False, max_images=cfg.batch_size, prepared=(comps, runners, pipe))
        _diffusers_run(comps, items[:cfg.batch_size], cfg, tmp / "warm")
        pipe.times.seconds = {k: 0.0 for k in pipe.times.seconds}
        cfg = GenerateConfig(**{**cfg.__dict__, "out": str(tmp / "ours")})
        summary = run_job(cfg, progress=False, max_images=images, prepared=(comps, runners, pipe))
        ours_s = summary["seconds"]
        diffusers_s = _diffusers_run(comps, items, cfg, tmp / "diffusers")
        bound_s = _unet_bound(pipe, cfg, images)
        return {
            "benchmark": "generate", "model": model, "images": images, "steps": steps, "batch": batch,
            "scheduler": scheduler, "guidance": guidance, "size": [pipe.height, pipe.width],
            "backend": runners.backend, "precision": runners.precision, "device": str(runners.device),
            "parity_max_abs_diff_vs_diffusers": max_diff, "parity_tolerance": tolerance,
            "ours_images_per_s": round(images / ours_s, 3),
            "diffusers_images_per_s": round(images / diffusers_s, 3),
            "speedup_vs_diffusers": round(diffusers_s / ours_s, 3),
            "unet_bound_images_per_s": round(images / bound_s, 3),
            "overhead_vs_unet_bound": round(ours_s / bound_s - 1, 4),
            "ours_stage_seconds": summary["stage_seconds"],
            "goal_speedup_ge_1_2": diffusers_s / ours_s >= 1.2,
            "goal_overhead_le_10pct": ours_s / bound_s - 1 <= 0.10,
        }
    finally:
        if out_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
