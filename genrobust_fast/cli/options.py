"""Options shared by several commands, declared once."""

from __future__ import annotations

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
backend_option = click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="auto",
    show_default=True,
    help="Inference backend; auto picks the fastest that can run here and logs why.",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=None,
    help="Numeric precision (default: fp32 on CPU, fp16 on GPU).",
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
