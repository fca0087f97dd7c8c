"""`genrobust bench unet`: UNet calls/s and images/s per backend, ratios against torch eager."""

from __future__ import annotations

import click

from .bench import emit_result
from .options import parse_size


@click.command()
@click.option("--model", default="tiny", show_default=True, help="tiny, sd15-arch or a diffusers folder.")
@click.option(
    "--backend",
    "backends",
    multiple=True,
    default=("torch", "onnxruntime"),
    show_default=True,
    type=click.Choice(["torch", "onnxruntime", "tensorrt"]),
    help="Backends to time (repeatable).",
)
@click.option("--batch", default=8, show_default=True, help="Images per UNet call (doubled by guidance).")
@click.option("--size", default=None, help="Image size HxW; default the model's size.")
@click.option(
    "--no-guidance", is_flag=True, help="Do not double the UNet batch for classifier-free guidance."
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--precision",
    type=click.Choice(["fp32", "fp16", "bf16", "fp8"]),
    default=None,
    help="Default: fp32 on CPU, fp16 on GPU.",
)
@click.option("--seconds", default=3.0, show_default=True, help="Timing duration per backend.")
@click.option("--threads", default=None, type=int, help="ONNX Runtime intra-op threads.")
@click.option("--compile", "compile_unet", is_flag=True, help="Also torch.compile the torch UNet (GPU).")
@click.option("--engine-dir", default="engines", show_default=True, help="Engine cache (built when missing).")
@click.option("--quick", is_flag=True, help="Short timing (0.5 s per backend).")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Also write the JSON here.")
def unet(
    model,
    backends,
    batch,
    size,
    no_guidance,
    device,
    precision,
    seconds,
    threads,
    compile_unet,
    engine_dir,
    quick,
    out,
):
    """Time the UNet on each backend after checking parity with torch fp32.

    \b
    Example:
      genrobust bench unet --model tiny --backend torch --backend onnxruntime --batch 8
    """
    from ..bench.unet import run_unet_benchmark

    result = run_unet_benchmark(
        model=model,
        backends=tuple(backends),
        batch=batch,
        size=parse_size(size) if size else None,
        guidance=not no_guidance,
        device=None if device == "auto" else device,
        precision=precision,
        engine_dir=engine_dir,
        seconds=0.5 if quick else seconds,
        threads=threads,
        compile_unet=compile_unet,
    )
    emit_result(result, out)
