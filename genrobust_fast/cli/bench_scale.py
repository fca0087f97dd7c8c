"""`genrobust bench scale`: parsing only; see genrobust_fast.bench.scale."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--quick", is_flag=True, help="50 vs 500 generated images and a 20k-file listing.")
@click.option("--listing-files", type=int, default=None, help="Files in the listing tree (default 1.28M; 20k with --quick).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here.")
def scale(quick, listing_files, out_path) -> None:
    """Planning a 1.28M-image job, restarting one with 100k finished images, flat memory, listing.

    \b
    Example:
      genrobust bench scale --quick
    """
    from ..bench.scale import run_scale_benchmark
    from ..fileio import atomic_write_json

    result = run_scale_benchmark(quick=quick, listing_files=listing_files)
    if out_path:
        atomic_write_json(out_path, result)
    click.echo(json.dumps(result, indent=2))
