"""`genrobust bench <area>`: parsing only; the benchmarks live in genrobust_fast.bench.

Each option's parameter name is the library function's keyword, and each default is that function's
default (tests/bench checks both), so `genrobust bench all`, which calls the functions, runs what the
commands run. The scripts in benchmarks/ call this same group.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator

import click

from ..bench.all import AREAS
from ..engines.backends import BACKENDS
from ..engines.builtin import BUILTIN_MODELS
from .options import backend_option, hub_options, parse_size, precision_option


@click.group()
def bench() -> None:
    """Benchmarks: each checks correctness first, then prints JSON with ratios measured in one run.

    \b
    Example:
      genrobust bench kernels --out bench-kernels.json
    """


def emit_result(result: dict, out_path: str | None) -> None:
    """Every benchmark's one ending: the machine it ran on added, the JSON written atomically and printed."""
    from ..bench.machine import record_result

    click.echo(json.dumps(record_result(result, out_path), indent=2))


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Sends whatever a benchmark writes to stdout to stderr, so stdout carries the JSON alone: DeepSpeed
    prints banners, and native code writes to file descriptor 1 directly (hence both levels)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_benchmark(benchmark: Callable[..., dict], out_path: str | None, **kwargs) -> None:
    with stdout_to_stderr():
        result = benchmark(**kwargs)
    emit_result(result, out_path)


def _size(ctx, param, value: str | None) -> tuple[int, int] | None:
    return parse_size(value) if value else None


out_option = click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here."
)
threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="Thread budget (default: all CPUs)."
)


def model_option(func):
    """--model and the options choosing its files (--revision, --variant, --cache-dir)."""
    model = click.option(
        "--model",
        default="tiny",
        show_default=True,
        help=f"{', '.join(BUILTIN_MODELS)}, a diffusers folder or a Hub id.",
    )
    return model(hub_options(func))


size_option = click.option("--size", callback=_size, default=None, help="HxW; default the model's size.")


def quick_option(what: str):
    return click.option("--quick", is_flag=True, help=f"{what} (a smoke run, not a measurement).")


@bench.command()
@threads_option
@quick_option("Small sizes")
@out_option
def kernels(out_path, **kwargs) -> None:
    """Native kernels vs torch/torchvision and NumPy, after checking they agree.

    \b
    Example:
      genrobust bench kernels --threads 2 --out bench-kernels.json
    """
    from ..bench.kernels import run_kernel_benchmarks

    run_benchmark(run_kernel_benchmarks, out_path, **kwargs)


@bench.command()
@click.option(
    "--images", "n_images", default=2000, show_default=True, help="Generated JPEGs in the epoch timed."
)
@click.option("--size", default=256, show_default=True, help="Side of the JPEGs.")
@click.option("--out-size", default=224, show_default=True, help="Training crop size.")
@click.option("--batch-size", default=64, show_default=True)
@threads_option
@click.option("--repeats", default=3, show_default=True, help="Alternating rounds; best epoch per loader.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Keep/reuse the JPEGs here.")
@quick_option("200 images of 128 px, one round")
@out_option
def loader(out_path, **kwargs) -> None:
    """Images/s of `dali` and `torch`+kernel vs a plain torchvision ImageFolder DataLoader.

    \b
    Example:
      genrobust bench loader --images 2000 --threads 2 --out bench-loader.json
    """
    from ..bench.loader import bench_loader

    run_benchmark(bench_loader, out_path, **kwargs)


@bench.command()
@click.option("--arch", default="resnet18", show_default=True)
@click.option("--image-size", default=112, show_default=True)
@click.option("--batch-size", default=32, show_default=True)
@click.option("--steps", default=30, show_default=True)
@click.option("--loader", type=click.Choice(("auto", "dali", "torch")), default="auto", show_default=True)
@threads_option
@quick_option("8 steps of 16 images")
@out_option
def train(out_path, **kwargs) -> None:
    """Images/s and data-wait fraction of `genrobust train` vs a plain PyTorch loop.

    \b
    Example:
      genrobust bench train --arch resnet18 --image-size 112 --steps 30 --out bench-train.json
    """
    from ..bench.train import bench_train

    run_benchmark(bench_train, out_path, **kwargs)


@bench.command()
@model_option
@click.option("--images", default=96, show_default=True, help="Images generated by each side.")
@click.option("--steps", default=20, show_default=True, help="Denoising steps.")
@click.option("--rounds", default=5, show_default=True, help="Alternating rounds; each side's best is kept.")
@click.option("--batch", default=8, show_default=True, help="Images per batch (both sides).")
@click.option("--scheduler", default="pndm", show_default=True, help="Scheduler (both sides).")
@click.option("--guidance", default=7.5, show_default=True, help="Guidance scale (both sides).")
@backend_option(default="auto", show_default=True, help="Our backend (diffusers always runs torch).")
@precision_option(default=None)
@click.option("--device", default="auto", show_default=True)
@size_option
@quick_option("At most 16 images and 4 steps")
@out_option
def generate(out_path, **kwargs) -> None:
    """Our generation job vs diffusers' pipeline of the model's family (same JPEG files), and vs the
    UNet-only bound; reports images/s per model family (sd1, sd2, sdxl) and step count.

    \b
    Examples:
      genrobust bench generate --model tiny --images 96 --steps 20 --batch 8
      genrobust bench generate --model tiny-sdxl --scheduler turbo --steps 1 --guidance 0
    """
    from ..bench.generate import run_generate_benchmark

    run_benchmark(run_generate_benchmark, out_path, **kwargs)


@bench.command()
@model_option
@click.option(
    "--backend",
    "backends",
    multiple=True,
    default=("torch", "onnxruntime"),
    show_default=True,
    type=click.Choice(BACKENDS),
    help="Backends to time (repeatable).",
)
@click.option("--batch", default=8, show_default=True, help="Images per UNet call (doubled by guidance).")
@size_option
@click.option(
    "--guidance/--no-guidance",
    default=True,
    show_default=True,
    help="Double the UNet batch for classifier-free guidance.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@precision_option(as_enum=True, default=None, help="Default: fp32 on CPU, fp16 on GPU.")
@click.option("--seconds", default=3.0, show_default=True, help="Timing duration per backend.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="ONNX Runtime intra-op threads.")
@click.option("--compile", "compile_unet", is_flag=True, help="Also torch.compile the torch UNet (GPU).")
@click.option("--engine-dir", default="engines", show_default=True, help="Engine cache (built when missing).")
@quick_option("0.5 s of timing per backend")
@out_option
def unet(out_path, **kwargs) -> None:
    """Time the UNet on each backend after checking parity with torch fp32.

    \b
    Example:
      genrobust bench unet --model tiny --backend torch --backend onnxruntime --batch 8
    """
    from ..bench.unet import run_unet_benchmark

    run_benchmark(run_unet_benchmark, out_path, **kwargs)


@bench.command()
@click.option("--quick", is_flag=True, help="50 vs 500 generated images and a 20k-file listing.")
@click.option(
    "--listing-files",
    type=int,
    default=None,
    help="Files in the listing tree (default 1.28M; 20k with --quick).",
)
@out_option
def scale(out_path, **kwargs) -> None:
    """Planning a 1.28M-image job, restarting one with 100k finished images, flat memory, listing.

    \b
    Example:
      genrobust bench scale --quick
    """
    from ..bench.scale import run_scale_benchmark

    run_benchmark(run_scale_benchmark, out_path, **kwargs)


@bench.command("all")
@click.option(
    "--quick/--full", default=True, show_default=True, help="Each benchmark's smoke run, or the full one."
)
@click.option(
    "--only", "areas", multiple=True, type=click.Choice(AREAS), help="Run only these areas (repeatable)."
)
@click.option(
    "--out",
    default="bench-all.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The combined JSON document.",
)
@click.option(
    "--timeout", "timeout_s", type=float, default=900, show_default=True, help="Seconds per benchmark."
)
def bench_all(quick, areas, out, timeout_s) -> None:
    """Run each benchmark in its own process; one that fails is recorded and the rest still run.

    \b
    Example:
      genrobust bench all --out bench-all.json
    """
    from pathlib import Path

    from ..bench.all import run_all, summary_table
    from ..fileio import atomic_write_json

    doc = run_all(
        areas or None, quick=quick, work_dir=Path(out).resolve().parent / "bench-parts", timeout_s=timeout_s
    )
    atomic_write_json(out, doc)
    click.echo(summary_table(doc))
    click.echo(f"full results: {out}")
