"""`genrobust bench scale`: parsing only; see genrobust_fast.bench.scale."""

from __future__ import annotations

import click

from .bench import emit_result


@click.command()
@click.option("--quick", is_flag=True, help="50 vs 500 generated images and a 20k-file listing.")
@click.option(
    "--listing-files",
    type=int,
    default=None,
    help="Files in the listing tree (default 1.28M; 20k with --quick).",
)
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here."
)
def scale(quick, listing_files, out_path) -> None:
    """Planning a 1.28M-image job, restarting one with 100k finished images, flat memory, listing.

    \b
    Example:
      genrobust bench scale --quick
    """
    from ..bench.scale import run_scale_benchmark

    result = run_scale_benchmark(quick=quick, listing_files=listing_files)
    emit_result(result, out_path)
