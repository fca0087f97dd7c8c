"""`genrobust bench train`: parsing only; see genrobust_fast.bench.train."""

from __future__ import annotations

import contextlib
import sys

import click

from .bench import emit_result


@click.command()
@click.option("--arch", default="resnet18", show_default=True)
@click.option("--image-size", type=int, default=112, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--steps", type=int, default=30, show_default=True)
@click.option(
    "--loader", "loader_kind", type=click.Choice(("auto", "dali", "torch")), default="auto", show_default=True
)
@click.option("--threads", type=int, default=None, help="Loader thread budget (default: all CPUs).")
@click.option("--quick", is_flag=True, help="8 steps of 16 images (a smoke run, not a measurement).")
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here."
)
def train(arch, image_size, batch_size, steps, loader_kind, threads, quick, out_path) -> None:
    """Images/s and data-wait fraction of `genrobust train` vs a plain PyTorch loop.

    \b
    Example:
      genrobust bench train --arch resnet18 --image-size 112 --steps 30 --out bench-train.json
    """
    from ..bench.train import bench_train

    n_images = 1024
    if quick:
        steps, batch_size, n_images = 8, 16, 128
    with contextlib.redirect_stdout(sys.stderr):  # DeepSpeed's banners and log lines go to stdout
        result = bench_train(
            arch=arch,
            image_size=image_size,
            batch_size=batch_size,
            steps=steps,
            n_images=n_images,
            loader=loader_kind,
            threads=threads,
        )
    emit_result(result, out_path)
