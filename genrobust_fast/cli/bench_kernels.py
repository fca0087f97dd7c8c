"""`genrobust bench kernels`: parsing only; see genrobust_fast.bench.kernels."""

from __future__ import annotations

import click

from .bench import emit_result


@click.command()
@click.option("--threads", type=int, default=None, help="Threads for every contender (default: all CPUs).")
@click.option("--quick", is_flag=True, help="Small sizes (a smoke run, not a measurement).")
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here."
)
def kernels(threads, quick, out_path) -> None:
    """Native kernels vs torch/torchvision and NumPy, after checking they agree.

    \b
    Example:
      genrobust bench kernels --threads 2 --out bench-kernels.json
    """
    from ..bench.kernels import run_kernel_benchmarks

    if threads is not None and threads < 1:
        raise click.BadParameter(f"{threads}; expected an integer >= 1", param_hint="--threads")
    result = run_kernel_benchmarks(threads=threads, quick=quick)
    emit_result(result, out_path)
