"""`genrobust demo`: the paper's experiment in miniature on Fashion-MNIST, every step through this CLI."""

from __future__ import annotations

import click

from .options import backend_option


class _DefaultsFromConfig(click.Command):
    """Fills the `{field}` placeholders of the options' help from DemoConfig's defaults when help is
    shown, so `--help` states what the code uses (and `genrobust --help` does not import the demo)."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from dataclasses import asdict

        from ..demo.plan import DemoConfig

        defaults = asdict(DemoConfig())
        defaults["seeds"] = len(defaults["seeds"])
        defaults["amounts"] = ",".join(str(a) for a in defaults["amounts"])
        for param in self.params:
            if isinstance(param, click.Option) and param.help and "{" in param.help:
                param.help = param.help.format(**defaults)
        super().format_help(ctx, formatter)


@click.command(cls=_DefaultsFromConfig)
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
    help="Folder of the Fashion-MNIST *-ubyte.gz files [{fashion_mnist}].",
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
@click.option(
    "--extended",
    is_flag=True,
    help="What the default run's 10-minute budget leaves out: 5 seeds, 100 generated images per class and "
    "a fourth amount (about 3x the default's time).",
)
@click.option("--dry-run", is_flag=True, help="Print the commands without running them.")
@click.option(
    "--generated-per-class",
    type=int,
    default=None,
    help="Generated images per class and set [{generated_per_class}]; with it, give --amounts.",
)
@click.option(
    "--amounts",
    default=None,
    help="Generated images per class of the amount finding, comma-separated, the largest equal to "
    "--generated-per-class [{amounts}].",
)
@click.option(
    "--epochs",
    type=int,
    default=None,
    help="Training epochs of the real-only baseline and mixed models [{epochs}]; the step-matched "
    "controls take twice as many.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=2),
    default=None,
    help="Training seeds per model (error bars) [{seeds}].",
)
@click.option(
    "--data-seed", type=int, default=None, help="Seed of the subsets, shifts and generation [{data_seed}]."
)
def demo(
    out,
    fashion_mnist,
    generator,
    finetuned_generator,
    backend,
    quick,
    extended,
    dry_run,
    generated_per_class,
    amounts,
    epochs,
    seeds,
    data_seed,
) -> None:
    """The paper's findings in miniature, with error bars over seeds and a Holm-adjusted verdict for each.

    \b
    Steps (each printed as the command a user would type):
      engine build (base, finetuned) -> generate (base labels, base templates, finetuned templates)
      -> train x seeds (DeepSpeed): real-only x3 sizes (the baseline line), real-only and RandAugment /
      AugMix at the mixed models' step count, real + each generated set, real + less generated data
      -> eval (clean, shifts drawn independently of the generator, generated) -> fit-baseline
      -> report -> findings with 95 % intervals
    Example:
      genrobust demo --out demo-output/
    """
    from ..demo.plan import DemoConfig
    from ..demo.run import run_demo

    if quick and extended:
        raise click.UsageError("--quick and --extended exclude each other; pick one")
    if amounts is not None:
        try:
            amounts = tuple(int(a) for a in amounts.split(","))
        except ValueError:
            raise click.BadParameter(
                f"{amounts!r} is not a comma-separated list of integers", param_hint="--amounts"
            ) from None

    given = {
        "out": out,
        "fashion_mnist": fashion_mnist,
        "generator": generator,
        "finetuned_generator": finetuned_generator,
        "backend": backend,
        "generated_per_class": generated_per_class,
        "amounts": amounts,
        "epochs": epochs,
        "seeds": tuple(range(seeds)) if seeds else None,
        "data_seed": data_seed,
    }
    given = {k: v for k, v in given.items() if v is not None}
    make = DemoConfig.quick if quick else DemoConfig.extended if extended else DemoConfig
    cfg = make(**given)
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
