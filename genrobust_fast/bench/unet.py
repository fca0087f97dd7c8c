"""UNet throughput per backend, as ratios against torch eager measured in the same run.

    result = run_unet_benchmark(model="tiny", backends=("torch", "onnxruntime"), batch=8)
    result["backends"]["onnxruntime"]["ratio_vs_torch"]

Correctness first: every backend's noise prediction on the benchmark inputs is compared with the
torch fp32 reference (relative L2 error; fp32 <= 1e-4, fp16 <= 2e-2, bf16 <= 5e-2) and a backend that
fails parity raises instead of being timed. FLOPs per call are counted on the torch model with
torch.utils.flop_counter (matmul/conv/attention), so TFLOP/s on a GPU is measured work over measured
time, compared with the device's dense fp16/bf16 peak from its datasheet.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from ..engines.specs import Precision, text_length
from ..errors import ParityError

log = logging.getLogger(__name__)

PARITY_TOL = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 5e-2, "fp8": 1e-1}
# Dense fp16/bf16 tensor-core peak (TFLOP/s) from NVIDIA datasheets, matched by device-name substring.
GPU_PEAK_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}
# SD 1.5's UNet (sd15-arch: diffusers UNet2DConditionModel with SD 1.5's config, 859.5M parameters) for one
# image at 512x512 (64x64 latent) and 77 text tokens: 0.803 TFLOP (matmul + conv + attention, 2 FLOP per
# multiply-add), counted by count_unet_flops below with PyTorch 2.14's torch.utils.flop_counter. Without the
# attention, which the counter misses in CPU flash-attention kernels, the same count is 0.677. Recount with
# `genrobust bench unet --model sd15-arch --batch 1 --no-guidance` (gflop_per_call_counted).
SD15_TFLOP_PER_IMAGE_CALL_512 = 0.803


def _time_calls(fn, device, seconds: float, warmup: int) -> tuple[float, int]:
    import torch

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        if calls % 4 == 0 or device.type == "cpu":
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and calls >= 2:
                return calls / elapsed, calls


def count_unet_flops(components, inputs, added_names: tuple[str, ...] | list[str] = ()) -> int:
    """FLOPs of one UNet call on `inputs` (sample, timestep, context, then the spec's added inputs)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from ..engines.runners import call_unet

    counter = FlopCounterMode(display=False)
    # The counter knows the CUDA attention kernels but not the CPU flash kernel, whose FLOPs it would drop;
    # on the CPU the math kernel (plain matmuls) is counted instead.
    kernels = sdpa_kernel(SDPBackend.MATH) if inputs[0].device.type == "cpu" else contextlib.nullcontext()
    with counter, torch.no_grad(), kernels:
        call_unet(components.unet, *inputs[:3], **dict(zip(added_names, inputs[3:])))
    return int(counter.get_total_flops())


def run_unet_benchmark(
    model: str = "tiny",
    backends: tuple[str, ...] = ("torch", "onnxruntime"),
    batch: int = 8,
    size: tuple[int, int] | None = None,
    guidance: bool = True,
    device: str | None = "auto",
    precision: Precision | None = None,
    engine_dir: str | Path = "engines",
    seconds: float = 3.0,
    warmup: int = 3,
    threads: int | None = None,
    compile_unet: bool = False,
    rounds: int = 3,
    quick: bool = False,
    revision: str | None = None,
    variant: str | None = None,
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """Time `runners.unet` for each backend on identical inputs; torch eager is always measured.
    `quick`: 0.5 s of timing per backend (a smoke run, not a measurement)."""
    import torch

    from ..devices import resolve_device
    from ..engines.backends import default_precision
    from ..engines.compare import relative_error
    from ..engines.models import load_components
    from ..engines.runners import call_unet
    from ..engines.select import create_runners
    from ..engines.specs import component_specs

    if quick:
        seconds = 0.5
    dev = resolve_device(device)
    prec = precision or default_precision(dev)
    comps = load_components(model, revision=revision, variant=variant, cache_dir=cache_dir)
    size = size or comps.default_size
    scale = comps.vae_scale_factor
    unet_batch = batch * (2 if guidance else 1)
    # The inputs the spec lists (SDXL's added conditioning, LCM's guidance embedding included).
    spec = component_specs(comps)["unet"]
    symbols = {
        "guided_batch": unet_batch,
        "latent_h": size[0] // scale,
        "latent_w": size[1] // scale,
        "context_len": text_length(comps),
    }
    named = {**spec.sample_inputs(symbols, seed=0), "timestep": torch.full((unet_batch,), 500.0)}
    inputs_cpu = tuple(named[n] for n in spec.input_names)
    added_names = spec.input_names[3:]

    def unet_call(fn, x):
        return fn(*x[:3], **dict(zip(added_names, x[3:])))

    # Reference and FLOP count in fp32 on the benchmark device (TF32 off so it is a true fp32 reference).
    comps.unet.to(dev)
    on_dev = tuple(x.to(dev) for x in inputs_cpu)
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        flops = count_unet_flops(comps, on_dev, added_names)
        with torch.no_grad():
            reference = unet_call(lambda *a, **k: call_unet(comps.unet, *a, **k), on_dev).cpu()
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    comps.unet.to("cpu")

    order = ["torch"] + [b for b in backends if b != "torch"]
    prepared: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for name in order:
        runners = create_runners(
            comps,
            backend=name,
            precision=prec,
            device=dev,
            engine_dir=engine_dir,
            batch_range=(batch, batch, batch),
            size=size,
            guidance=guidance,
            build_if_missing=True,
            threads=threads,
            compile_unet=compile_unet and name == "torch",
        )
        inputs = tuple(x.to(dev, runners.dtype) if i != 1 else x.to(dev) for i, x in enumerate(inputs_cpu))
        out = unet_call(runners.unet, inputs)
        err = relative_error(out, reference)
        tol = PARITY_TOL[prec.value]
        if not err <= tol:
            raise ParityError(f"{name} {prec.value} UNet differs from torch fp32 by {err:.2e} > {tol}")
        prepared[name] = (runners, inputs)
        results[name] = {"relative_error_vs_torch_fp32": float(f"{err:.3e}"), "rounds_calls_per_s": []}
    # Interleaved rounds, best round per backend: on a shared machine the load changes during a run,
    # and alternating backends exposes each to the same conditions.
    for _ in range(rounds):
        for name, (runners, inputs) in prepared.items():
            rate, _calls = _time_calls(
                lambda r=runners, x=inputs: unet_call(r.unet, x), dev, seconds / rounds, warmup
            )
            results[name]["rounds_calls_per_s"].append(round(rate, 3))
    for entry in results.values():
        best = max(entry["rounds_calls_per_s"])
        entry.update(
            unet_calls_per_s=best,
            images_per_s=round(best * batch, 3),
            achieved_tflops=round(best * flops / 1e12, 4),
        )
    base = results["torch"]["unet_calls_per_s"]
    for entry in results.values():
        entry["ratio_vs_torch"] = round(entry["unet_calls_per_s"] / base, 3)

    doc: dict[str, Any] = {
        "benchmark": "unet",
        "model": model,
        "model_source": comps.source.provenance(),
        "device": str(dev),
        "precision": prec.value,
        "batch_images": batch,
        "unet_batch": unet_batch,
        "size": list(size),
        "guidance": guidance,
        "gflop_per_call_counted": round(flops / 1e9, 3),
        "backends": results,
    }
    if dev.type == "cuda":
        gpu = torch.cuda.get_device_name(dev)
        peak = next((v for k, v in GPU_PEAK_TFLOPS.items() if k in gpu), None)
        doc["gpu"] = gpu
        doc["gpu_peak_tflops_dense_16bit"] = peak
        for entry in results.values():
            entry["fraction_of_peak"] = round(entry["achieved_tflops"] / peak, 4) if peak else None
    if model == "sd15-arch":
        doc["reference_tflop_per_call"] = round(
            SD15_TFLOP_PER_IMAGE_CALL_512 * unet_batch * size[0] * size[1] / 512**2, 3
        )
    doc["torch_threads"] = torch.get_num_threads()
    doc["ort_threads"] = threads or "physical cores (ORT default)"
    return doc
