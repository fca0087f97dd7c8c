"""`--verify-against-diffusers N`: regenerate N recorded images with diffusers alone and compare.

    report = verify_against_diffusers(cfg, 4)
    report["results"]  # [{"backend": "torch", "precision": "fp32", "max_abs_diff": 0, ...}, ...]

Diffusers gets only what the metadata records (pipeline class, scheduler class and config, prompt,
negative prompt, steps, guidance, strength, size, seed, source image), so a passing check shows that the
metadata alone reproduces the image. Our side is regenerated with the torch fp32 reference and with the
job's own backend and precision; the stored file is compared too (exact only for PNG).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from ..genset import Entry, GeneratedSet, read_records
from .config import GenerateConfig
from .job import create_pipeline, open_job

log = logging.getLogger(__name__)


def pixel_tolerance(backend: str, precision: str) -> int | None:
    """Largest pixel difference (0-255) from diffusers that counts as the same image, for every model
    family (SD 1.x, 2.x, SDXL, few-step): 1 for torch fp32 (the parity guarantee: a rounding step), 2 for
    other fp32 backends (another kernel order), none below fp32, where differences are expected and
    only reported."""
    if precision != "fp32":
        return None
    return 1 if backend == "torch" else 2


def max_pixel_diff(ours: np.ndarray, theirs: np.ndarray) -> int:
    """The comparator: largest |ours - theirs| over uint8 images of the same shape (0-255)."""
    if ours.shape != theirs.shape:
        raise ValueError(f"images of different shapes {ours.shape} and {theirs.shape} cannot be compared")
    return int(np.abs(ours.astype(int) - theirs.astype(int)).max())


def _sample_records(cfg: GenerateConfig, n: int) -> list[dict[str, Any]]:
    job = open_job(cfg)
    records = []
    for k in range(job.num_shards):
        records.extend(read_records(job.layout.jsonl(k)))
    if not records:
        raise DatasetError(f"{cfg.out} holds no finished images to verify; run the job first")
    return random.Random(cfg.seed).sample(records, min(n, len(records)))


def _diffusers_image(pipe, record: dict[str, Any], source) -> np.ndarray:
    import diffusers
    import torch

    pipe.scheduler = getattr(diffusers, record["scheduler_class"]).from_config(record["scheduler_config"])
    kwargs: dict[str, Any] = {
        "num_inference_steps": record["steps"],
        "guidance_scale": record["guidance"],
        "output_type": "np",
        "generator": [torch.Generator("cpu").manual_seed(record["seed"])],
    }
    if record["pipeline_class"] == "StableDiffusionImageVariationPipeline":
        kwargs.update(image=source, height=record["height"], width=record["width"])
    else:
        kwargs.update(prompt=record["prompt"], negative_prompt=record["negative_prompt"] or None)
        if record["pipeline_class"].endswith("Img2ImgPipeline"):  # SD and SDXL alike
            kwargs.update(image=source, strength=record["strength"])
        else:
            kwargs.update(height=record["height"], width=record["width"])
    return (pipe(**kwargs).images[0] * 255).round().astype(np.uint8)


def verify_against_diffusers(cfg: GenerateConfig, n: int) -> dict[str, Any]:
    """Largest per-pixel difference (0-255) between diffusers and us, per backend and precision."""
    from dataclasses import replace

    from .. import kernels
    from ..data.decode import decode_rgb
    from ..engines import load_components
    from ..engines.hub import model_files
    from ..engines.models import diffusers_pipeline
    from .pipeline import Request, load_source_image

    records = _sample_records(cfg, n)
    reference_cfg = replace(cfg, backend="torch", precision="fp32", device="cpu")
    contenders = {("torch", "fp32"): create_pipeline(reference_cfg)[2]}
    job_pipe = create_pipeline(cfg)[2]
    contenders.setdefault((job_pipe.runners.backend, job_pipe.runners.precision), job_pipe)
    diffusers_pipe = diffusers_pipeline(
        load_components(cfg.model, **model_files(cfg)), records[0]["pipeline_class"]
    )
    worst = {key: 0 for key in contenders}
    file_worst = 0
    stored_set = GeneratedSet.open(cfg.out)
    for record in records:
        source = None
        if record["source_image"]:
            source = load_source_image(
                Path(cfg.real) / record["source_image"],
                (record["height"], record["width"]),  # type: ignore[arg-type]
                job_pipe.mode,
            )
        theirs = _diffusers_image(diffusers_pipe, record, source)
        request = Request(record["prompt"], record["seed"], record["negative_prompt"] or "", source)
        for key, pipe in contenders.items():
            ours = kernels.to_uint8(pipe.generate([request]))[0]
            worst[key] = max(worst[key], max_pixel_diff(ours, theirs))
        stored = decode_rgb(stored_set.read_bytes(Entry.parse(record["file"])), record["file"])
        file_worst = max(file_worst, max_pixel_diff(stored, theirs))
    stored_set.close()
    results = [{"backend": b, "precision": p, "max_abs_diff": d} for (b, p), d in worst.items()]
    return {
        "images": len(records),
        "results": results,
        "stored_file_max_abs_diff": file_worst,
        "stored_format": cfg.image_format,
        "note": "pixel units 0-255; stored files differ by encoding loss unless PNG",
    }
