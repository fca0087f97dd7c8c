"""`genrobust`: the top-level command group."""

from __future__ import annotations

import click

from .. import __version__
from ..errors import GenrobustError, one_line_message
from ..logs import configure_logging
from ..writefail import write_failure
from .lazy import LazyGroup

COMMANDS = {
    "info": "genrobust_fast.cli.info:info",
    "bench": "genrobust_fast.cli.bench:bench",
    "engine": "genrobust_fast.cli.engine:engine",
    "generate": "genrobust_fast.cli.generate:generate",
    "generator": "genrobust_fast.cli.generator:generator",
    "data": "genrobust_fast.cli.data:data",
    "train": "genrobust_fast.cli.train:train",
    "eval": "genrobust_fast.cli.evaluate:eval_command",
    "report": "genrobust_fast.cli.evaluate:report",
    "fit-baseline": "genrobust_fast.cli.evaluate:fit_baseline",
    "demo": "genrobust_fast.cli.demo:demo",
}


class GenrobustGroup(LazyGroup):
    """Turns the toolkit's errors into one clean line and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GenrobustError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {one_line_message(exc)}") from exc
        except Exception as exc:
            # A full or read-only disk, or a name too long for it, wherever the write was: one line too.
            failure = write_failure(exc)
            if failure is None:
                raise
            raise click.ClickException(f"{type(failure).__name__}: {failure}") from exc


@click.group(
    cls=GenrobustGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="genrobust")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Robust classifiers from real + diffusion-generated images, fast and reproducible.

    \b
    Typical flow:
      genrobust engine build --model tiny --backend onnxruntime
      genrobust generate --model tiny --classes imagenet100 --per-class 2 --out gen/
      genrobust train --real real/ --generated gen/ --ratio 1 --arch resnet18 --out run/
      genrobust eval --checkpoint run/model.safetensors --benchmark imagenet-r=/data/imagenet-r --out results/
      genrobust report results/results.jsonl --out report/
    """
    configure_logging(verbose)
