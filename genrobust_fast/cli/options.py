"""Options shared by several commands, declared once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")
PRECISIONS = ("fp32", "fp16", "bf16", "fp8")

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


def read_class_map(path: str) -> dict[str, str]:
    """A JSON object {folder: class_id} or 'folder<TAB>class_id' lines (for `folder` benchmarks)."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        return {str(k): str(v) for k, v in json.loads(text).items()}
    pairs = [line.split("\t")[:2] for line in text.splitlines() if line.strip() and not line.startswith("#")]
    bad = [p for p in pairs if len(p) != 2]
    if bad:
        raise click.BadParameter(f"{path}: expected 'folder<TAB>class_id' lines, got {bad[0]!r}")
    return {k.strip(): v.strip() for k, v in pairs}
