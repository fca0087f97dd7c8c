"""`genrobust bench`: throughput of every stage as ratios against the plain alternative."""

from __future__ import annotations

import click

from .lazy import LazyGroup

BENCHMARKS = {
    "kernels": "genrobust_fast.cli.bench_kernels:kernels",
    "unet": "genrobust_fast.cli.bench_unet:unet",
    "generate": "genrobust_fast.cli.bench_generate:generate",
    "loader": "genrobust_fast.cli.bench_loader:loader",
    "train": "genrobust_fast.cli.bench_train:train",
    "scale": "genrobust_fast.cli.bench_scale:scale",
    "all": "genrobust_fast.cli.bench_all:bench_all",
}


@click.group(cls=LazyGroup, lazy_commands=BENCHMARKS)
def bench() -> None:
    """Benchmarks: each checks correctness first, then prints JSON with ratios measured in one run.

    \b
    Example:
      genrobust bench kernels --out bench-kernels.json
    """


def emit_result(result: dict, out_path: str | None) -> None:
    """Every benchmark's one ending: the machine it ran on added, the JSON written atomically and printed."""
    import json

    from ..bench.machine import machine_info
    from ..fileio import atomic_write_json

    result.setdefault("machine", machine_info())
    if out_path:
        atomic_write_json(out_path, result)
    click.echo(json.dumps(result, indent=2))
