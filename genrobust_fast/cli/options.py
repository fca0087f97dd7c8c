"""Options shared by several commands, declared once."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import click

from ..engines.backends import BACKEND_CHOICES
from ..engines.specs import PRECISIONS, Precision

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file of defaults for this command; explicit options override it.",
)
device_option = click.option(
    "--device", default="auto", show_default=True, help="Device: auto, cpu, cuda or cuda:N."
)
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def shown_default(value: Any) -> str:
    """A config default as help text shows it: flags as on/off, everything else as written."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def defaults_of(config_cls: type) -> Callable[[str, str], str]:
    """`helped("Denoising steps.", "steps")` -> "Denoising steps.  [default: 50]", the value read from
    `config_cls`'s field. Options default to None (so a --config file's values stand unless given), so
    click cannot show the default itself; reading it here keeps the help true when the code changes."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls)}

    def helped(text: str, field: str) -> str:
        return f"{text}  [default: {shown_default(defaults[field])}]".lstrip()

    return helped


def hub_options(func: Callable) -> Callable:
    """--revision, --variant and --cache-dir: which files of --model to load (engines/hub.py). Defaults
    are None so a --config file's values stand unless given here."""
    for option in (
        click.option(
            "--cache-dir",
            default=None,
            help="Hugging Face cache for Hub ids.  [default: $HF_HUB_CACHE, else the HF home's hub]",
        ),
        click.option(
            "--variant", default=None, help="Weight-file variant of --model, e.g. fp16 (*.fp16.safetensors)."
        ),
        click.option(
            "--revision",
            default=None,
            help="Branch, tag or commit of a Hub id --model.  [default: its main branch]",
        ),
    ):
        func = option(func)
    return func


def backend_option(choices: tuple[str, ...] = BACKEND_CHOICES, **settings) -> Callable:
    """--backend, choosing among the engines' backends (`engines.backends`, the one list); `settings` are
    the command's own default and help."""
    return click.option("--backend", type=click.Choice(choices), **settings)


class PrecisionChoice(click.Choice):
    """The `Precision` enum's values, converted to the enum here, at the boundary, so the library takes
    the parsed value (an unknown one is click's usage error, listing the choices)."""

    def __init__(self):
        super().__init__(PRECISIONS)

    def convert(self, value, param, ctx) -> Precision:
        return Precision(super().convert(value, param, ctx))


def precision_option(as_enum: bool = False, **settings) -> Callable:
    """--precision of an inference engine, choosing among the one `Precision` enum's values. `as_enum`:
    the command hands it to the engines as a `Precision`; without it the text goes into a config that
    records it as written (generate)."""
    choice = PrecisionChoice() if as_enum else click.Choice(PRECISIONS)
    return click.option("--precision", type=choice, **settings)


def parse_size(value: str) -> tuple[int, int]:
    """'512' or '512x768' (height x width) -> (h, w)."""
    try:
        parts = [int(p) for p in value.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) <= 0:
        raise click.BadParameter(f"expected HxW such as 512x512, got {value!r}")
    return parts[0], parts[1]


def emit_report(
    report: dict, as_json: bool, lines: Callable[[dict], list[str]], report_path: str | None = None
) -> None:
    """The data commands' output: the full JSON report to `report_path` when given, and on stdout either
    the JSON (--json) or the short human summary `lines(report)`."""
    if report_path:
        from ..fileio import atomic_write_json

        atomic_write_json(report_path, report)
    click.echo(json.dumps(report, indent=2) if as_json else "\n".join(lines(report)))
