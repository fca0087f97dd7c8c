"""`genrobust generator`: make generators; `finetune` trains a diffusers UNet on captioned real images."""

from __future__ import annotations

import click

from ..finetune.config import FinetuneConfig
from .options import config_option, defaults_of, hub_options, seed_option

helped = defaults_of(FinetuneConfig)


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
@click.option("--steps", type=int, default=None, help=helped("Optimizer steps.", "steps"))
@click.option("--batch-size", type=int, default=None, help=helped("Images per step.", "batch_size"))
@click.option(
    "--lr",
    type=float,
    default=None,
    help=helped("AdamW learning rate (the paper used 1e-6 for SD 1.5).", "lr"),
)
@click.option("--warmup-steps", type=int, default=None, help=helped("Linear warmup steps.", "warmup_steps"))
@click.option(
    "--ema-decay",
    type=float,
    default=None,
    help=helped("EMA decay of the UNet weights; 0 turns EMA off.", "ema_decay"),
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16"]),
    default=None,
    help=helped("auto: bf16 autocast on GPUs that support it, fp32 on CPUs.", "precision"),
)
@click.option(
    "--template",
    "templates",
    multiple=True,
    help="Caption template with {} for the class name; repeat to draw one per image.  "
    f"[default: {FinetuneConfig.templates[0]}]",
)
@click.option(
    "--caption-dropout",
    type=float,
    default=None,
    help=helped("Share of empty captions, for guidance.", "caption_dropout"),
)
@click.option(
    "--cache-latents/--no-cache-latents",
    default=None,
    help=helped("Encode every image once with the frozen VAE (small sets).", "cache_latents"),
)
@click.option(
    "--resolution", type=int, default=None, help="Training size in pixels.  [default: the model's size]"
)
@click.option(
    "--checkpoint-every",
    type=int,
    default=None,
    help=helped("Steps between resumable checkpoints.", "checkpoint_every"),
)
@click.option("--device", default=None, help=helped("auto, cpu, cuda or cuda:N.", "device"))
@click.option(
    "--threads", "num_threads", type=int, default=None, help="CPU threads for torch.  [default: torch's own]"
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
