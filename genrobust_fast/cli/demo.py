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
@click.option("--generator", default=None, help="Base generator folder [the shipped demo generator].")
@click.option(
    "--finetuned-generator",
    default=None,
    help="The base generator finetuned on the real photos [the shipped finetuned demo generator].",
)
@backend_option(
    default="auto",
    show_default=True,
    help="Generation backend (auto: TensorRT on a GPU that has it, else ONNX Runtime).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A miniature run (about a minute): tiny subsets, 2 seeds, 4 denoising steps.",
)
@click.option("--dry-run", is_flag=True, help="Print the commands without running them.")
@click.option(
    "--generated-per-class", type=int, default=None, help="Generated images per class and set [100]."
)
@click.option("--epochs", type=int, default=None, help="Training epochs of each classifier [10].")
@click.option(
    "--seeds", type=click.IntRange(min=2), default=None, help="Training seeds per model (error bars) [3]."
)
@click.option("--data-seed", type=int, default=None, help="Seed of the subsets, shifts and generation [0].")
def demo(
    out,
    fashion_mnist,
    generator,
    finetuned_generator,
    backend,
    quick,
    dry_run,
    generated_per_class,
    epochs,
    seeds,
    data_seed,
) -> None:
    """The paper's three findings in miniature, with error bars over seeds and a verdict for each.

    \b
    Steps (each printed as the command a user would type):
      engine build (base, finetuned) -> generate (base labels, base templates, finetuned templates)
      -> train (real-only x3 sizes, real + each generated set) x seeds (DeepSpeed) -> eval (clean,
      renditions, generated) -> fit-baseline -> report -> findings with 95 % intervals
    Example:
      genrobust demo --out demo-output/
    """
    from ..demo.plan import DemoConfig
    from ..demo.run import run_demo

    given = {
        "out": out,
        "fashion_mnist": fashion_mnist,
        "generator": generator,
        "finetuned_generator": finetuned_generator,
        "backend": backend,
        "generated_per_class": generated_per_class,
        "epochs": epochs,
        "seeds": tuple(range(seeds)) if seeds else None,
        "data_seed": data_seed,
    }
    given = {k: v for k, v in given.items() if v is not None}
    cfg = DemoConfig.quick(**given) if quick else DemoConfig(**given)
    run_demo(cfg, echo=click.echo, run_command=run_in_process, dry_run=dry_run)


def run_in_process(argv: tuple[str, ...]) -> int:
    """Run `genrobust <argv>` in this process; its exit status (errors are printed as the CLI prints them)."""
    import os

    from .main import cli

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        cli.main(list(argv), prog_name="genrobust", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    return 0
