"""`genrobust bench loader`: parsing only; see genrobust_fast.bench.loader."""

from __future__ import annotations

import click

from .bench import emit_result


@click.command()
@click.option(
    "--images", type=int, default=2000, show_default=True, help="Generated JPEGs in the epoch timed."
)
@click.option("--size", type=int, default=256, show_default=True, help="Side of the JPEGs.")
@click.option("--out-size", type=int, default=224, show_default=True, help="Training crop size.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--threads", type=int, default=None, help="Thread budget of every loader (default: all CPUs).")
@click.option(
    "--repeats", type=int, default=3, show_default=True, help="Alternating rounds; best epoch per loader."
)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Keep/reuse the JPEGs here.")
@click.option("--quick", is_flag=True, help="200 images of 128 px (a smoke run, not a measurement).")
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here."
)
def loader(images, size, out_size, batch_size, threads, repeats, data_dir, quick, out_path) -> None:
    """Images/s of `dali` and `torch`+kernel vs a plain torchvision ImageFolder DataLoader.

    \b
    Example:
      genrobust bench loader --images 2000 --threads 2 --out bench-loader.json
    """
    from ..bench.loader import bench_loader

    if quick:
        images, size, out_size, batch_size, repeats = 200, 128, 112, 32, 1
    result = bench_loader(
        n_images=images,
        size=size,
        out_size=out_size,
        batch_size=batch_size,
        threads=threads,
        data_dir=data_dir,
        repeats=repeats,
    )
    emit_result(result, out_path)
