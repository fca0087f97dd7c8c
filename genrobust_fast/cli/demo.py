"""`genrobust demo`: the paper's experiment in miniature on Fashion-MNIST, every step through this CLI."""

from __future__ import annotations

import click

from .options import backend_option


@click.command()
@click.option(
    "--out",
    default="demo-output",
    show_default=True,
    type=click.Path(file_okay=False),
    help="One folder for data, engines, generated sets, runs, results and the report.",
)
@click.option(
    "--fashion-mnist",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder of the Fashion-MNIST *-ubyte.gz files [/usr/share/datasets/fashion-mnist].",
)
@click.option("--generator", default=None, help="Generator folder [the shipped demo generator].")
@backend_option(
    default="auto",
    show_default=True,
    help="Generation backend (auto: TensorRT on a GPU that has it, else ONNX Runtime).",
)
@click.option(
    "--quick", is_flag=True, help="A miniature run (about a minute): tiny subsets, 10 epochs, 1 strategy."
)
@click.option("--dry-run", is_flag=True, help="Print the commands without running them.")
@click.option(
    "--generated-per-class", type=int, default=None, help="Generated images per class and strategy [100]."
)
@click.option("--epochs", type=int, default=None, help="Training epochs of each classifier [8].")
@click.option("--seed", type=int, default=None, help="Seed of subsets, generation and training [0].")
def demo(out, fashion_mnist, generator, backend, quick, dry_run, generated_per_class, epochs, seed) -> None:
    """Real vs real+generated vs generated-only classifiers, evaluated on derived shifts, with a report.

    \b
    Steps (each printed as the command a user would type):
      engine build -> generate (labels, templates) -> train x7 (DeepSpeed) -> eval -> fit-baseline -> report
    Example:
      genrobust demo --out demo-output/
    """
    from ..demo.plan import DemoConfig
    from ..demo.run import run_demo

    given = {
        "out": out,
        "fashion_mnist": fashion_mnist,
        "generator": generator,
        "backend": backend,
        "generated_per_class": generated_per_class,
        "epochs": epochs,
        "seed": seed,
    }
    given = {k: v for k, v in given.items() if v is not None}
    cfg = DemoConfig.quick(**given) if quick else DemoConfig(**given)
    run_demo(cfg, echo=click.echo, dry_run=dry_run)
