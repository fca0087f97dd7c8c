"""`genrobust bench all`: every benchmark on the tiny model, one JSON file plus a short table."""

from __future__ import annotations

import click


@click.command("all")
@click.option(
    "--quick/--full", default=True, show_default=True, help="Pass --quick to benchmarks that have it."
)
@click.option(
    "--only",
    "areas",
    multiple=True,
    help="Run only these areas (repeatable): kernels, loader, unet, generate, train, scale.",
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
    """Run each `genrobust bench <area>` in turn; one that fails is recorded and the rest still run.

    \b
    Example:
      genrobust bench all --out bench-all.json
    """
    from pathlib import Path

    from ..bench.all import AREAS, run_all, summary_table
    from ..fileio import atomic_write_json

    unknown = sorted(set(areas) - set(AREAS))
    if unknown:
        raise click.BadParameter(
            f"unknown area(s) {unknown}; choose from {', '.join(AREAS)}", param_hint="--only"
        )
    doc = run_all(
        areas or None, quick=quick, work_dir=Path(out).resolve().parent / "bench-parts", timeout_s=timeout_s
    )
    atomic_write_json(out, doc)
    click.echo(summary_table(doc))
    click.echo(f"full results: {out}")
