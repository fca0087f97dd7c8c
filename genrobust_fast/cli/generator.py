"""`genrobust generator`: make generators; `finetune` trains a diffusers UNet on captioned real images."""

from __future__ import annotations

import click

from .options import config_option, hub_options, seed_option


@click.group()
def generator() -> None:
    """Generator models (the paper's "finetuned generator")."""


@generator.command()
@click.option("--model", required=True, help="Base model: a diffusers folder, a Hub id, or tiny.")
@hub_options
@click.option(
    "--real",
    required=True,
    type=click.Path(file_okay=False),
    help="ImageFolder of real images (one folder per class); a metadata.jsonl there gives images their "
    "own captions.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output diffusers folder (resumes if it holds this job).",
)
@click.option("--steps", type=int, default=None, help="Optimizer steps [1000].")
@click.option("--batch-size", type=int, default=None, help="Images per step [16].")
@click.option(
    "--lr", type=float, default=None, help="AdamW learning rate [1e-5; the paper used 1e-6 for SD 1.5]."
)
@click.option("--warmup-steps", type=int, default=None, help="Linear warmup steps [0].")
@click.option(
    "--ema-decay", type=float, default=None, help="EMA decay of the UNet weights; 0 turns EMA off [0]."
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16"]),
    default=None,
    help="auto: bf16 autocast on GPUs that support it, fp32 on CPUs [auto].",
)
@click.option(
    "--template",
    "templates",
    multiple=True,
    help="Caption template with {} for the class name; repeat to draw one per image ['a photo of a {}'].",
)
@click.option(
    "--caption-dropout", type=float, default=None, help="Share of empty captions, for guidance [0]."
)
@click.option(
    "--cache-latents/--no-cache-latents",
    default=None,
    help="Encode every image once with the frozen VAE (small sets).",
)
@click.option("--resolution", type=int, default=None, help="Training size in pixels [the model's default].")
@click.option("--checkpoint-every", type=int, default=None, help="Steps between resumable checkpoints [200].")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N [auto].")
@click.option(
    "--threads", "num_threads", type=int, default=None, help="CPU threads for torch [torch's default]."
)
@seed_option
@config_option
def finetune(config_path, templates, **options) -> None:
    """Finetune the UNet on real images captioned `a photo of a {class name}` (noise-prediction MSE).

    \b
    Example:
      genrobust generator finetune --model tiny --real real/ --out tiny-ft/ --steps 200
      genrobust generator finetune --model /models/sd15 --real /data/imagenet/train \\
          --out sd15-imagenet-ft/ --lr 1e-6 --batch-size 32 --steps 40000
    A killed run resumes when the same command is run again.
    """
    from ..config import resolve_config
    from ..finetune import FinetuneConfig, finetune_generator

    overrides = dict(options, templates=tuple(templates) or None)
    cfg = resolve_config(FinetuneConfig, config_path, overrides)
    out = finetune_generator(cfg)
    click.echo(f"finetuned model written to {out}")
