"""`genrobust train`: parsing only; the work is genrobust_fast.training.train."""

from __future__ import annotations

import contextlib
import json
import os
import sys

import click

from ..data.augment import AUGMENTATIONS
from ..data.loaders import LOADERS
from ..training.config import SCHEDULES, TRAINING_PRECISIONS, TrainConfig
from .options import config_option, defaults_of, json_option

helped = defaults_of(TrainConfig)


@click.command()
@click.option(
    "--real",
    type=click.Path(file_okay=False),
    default=None,
    help="Real ImageFolder tree (<root>/<class_id>/*).",
)
@click.option(
    "--generated",
    type=click.Path(file_okay=False),
    default=None,
    help="Generated set: the --out of `genrobust generate`, or a plain ImageFolder <root>/<class_id>/* "
    "(e.g. a released set; trained on, recorded as without provenance).",
)
@click.option(
    "--classes",
    default=None,
    help="Label space: imagenet, imagenet100, a class file, or a folder (default: --real's folders).",
)
@click.option(
    "--ratio",
    type=float,
    default=None,
    help="Generated images per real image per epoch (0 = real only; default: the whole generated set).",
)
@click.option(
    "--generated-count", type=int, default=None, help="Use a fixed seeded subset of N generated images."
)
@click.option("--generated-only", is_flag=True, default=None, help="Train on generated images alone.")
@click.option(
    "--allow-missing-classes",
    is_flag=True,
    default=None,
    help="Go on when the generated set lacks or adds classes (recorded in the run).",
)
@click.option(
    "--allow-empty-classes",
    is_flag=True,
    default=None,
    help="Go on when classes of the label space have no image at all (e.g. an empty class folder).",
)
@click.option(
    "--arch", default=None, help=helped("torchvision architecture, e.g. resnet18, resnet50.", "arch")
)
@click.option("--epochs", type=int, default=None, help=helped("Epochs.", "epochs"))
@click.option(
    "--max-steps",
    type=int,
    default=None,
    help="Stop after this many steps (the LR schedule still spans --epochs; --resume continues).",
)
@click.option("--batch-size", type=int, default=None, help=helped("Images per rank per step.", "batch_size"))
@click.option(
    "--image-size", type=int, default=None, help=helped("Training crop size in pixels.", "image_size")
)
@click.option("--lr", type=float, default=None, help=helped("Peak learning rate.", "lr"))
@click.option(
    "--schedule",
    type=click.Choice(SCHEDULES),
    default=None,
    help=helped("LR decay after warmup.", "schedule"),
)
@click.option(
    "--warmup-epochs",
    type=float,
    default=None,
    help=helped("Linear warmup length in epochs.", "warmup_epochs"),
)
@click.option(
    "--loader",
    type=click.Choice(LOADERS),
    default=None,
    help=helped("Input pipeline; auto picks dali when it runs, else torch.", "loader"),
)
@click.option(
    "--workers", type=int, default=None, help="Decode processes (torch) or threads (dali); default: all CPUs."
)
@click.option(
    "--augment",
    type=click.Choice(AUGMENTATIONS),
    default=None,
    help=helped("Augmentation baseline (torch loader).", "augment"),
)
@click.option(
    "--crop-scale",
    type=float,
    default=None,
    help=helped(
        "Smallest random-resized-crop area, as a fraction of the image (the ImageNet recipe).", "crop_scale"
    ),
)
@click.option(
    "--channels-last/--no-channels-last",
    default=None,
    help=helped("Feed batches in NHWC memory layout (faster convolutions).", "channels_last"),
)
@click.option(
    "--deepspeed-config",
    type=click.Path(dir_okay=False),
    default=None,
    help="DeepSpeed JSON (configs/deepspeed_*.json).",
)
@click.option(
    "--precision",
    type=click.Choice(TRAINING_PRECISIONS),
    default=None,
    help=helped("auto: the JSON's, else bf16/fp16 on GPUs, fp32 on CPUs.", "precision"),
)
@click.option(
    "--device",
    default=None,
    help=helped("auto (cuda:<LOCAL_RANK> under a launcher, else cpu), cpu, cuda or cuda:N.", "device"),
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help=helped("Seed of the model init, the mix and the augmentations.", "seed"),
)
@click.option(
    "--checkpoint-every",
    type=int,
    default=None,
    help="Write a checkpoint every N steps (and always at the end).",
)
@click.option("--log-every", type=int, default=None, help=helped("Metrics row every N steps.", "log_every"))
@click.option(
    "--resume", is_flag=True, default=None, help="Continue the run in --out from its latest checkpoint."
)
@click.option("--no-progress", "progress", flag_value=False, default=None, help="No progress bar.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Run folder (checkpoints, metrics, model.safetensors).",
)
@click.option("--local_rank", "--local-rank", "local_rank", type=int, default=None, hidden=True)
@config_option
@json_option
def train(config_path, as_json, local_rank, **options) -> None:
    """Train a classifier on real and/or generated images with DeepSpeed.

    \b
    Examples:
      genrobust train --real real/ --generated gen/ --ratio 1 --arch resnet18 --epochs 2 \\
          --batch-size 64 --image-size 112 --out run/
      deepspeed --num_gpus 8 --module genrobust_fast train --config configs/train_paper_resnet50.yaml \\
          --real /data/imagenet/train --generated /data/gen --out runs/r50
    """
    from ..config import resolve_config
    from ..training import TrainConfig
    from ..training import train as run_training

    if (
        local_rank is not None
    ):  # older launchers pass --local_rank only; the device resolver reads the variable
        os.environ.setdefault("LOCAL_RANK", str(local_rank))
    cfg = resolve_config(TrainConfig, config_path, options)
    # DeepSpeed prints banners and binds its log handler to stdout when first imported: send both to
    # stderr so stdout carries only our result (JSON with --json).
    with contextlib.redirect_stdout(sys.stderr):
        result = run_training(cfg)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(
            f"trained {result['steps']} steps ({result['epochs']} epochs), "
            f"{result['images_per_s']} img/s, data wait {result['data_wait_fraction']:.0%}; "
            f"model: {result['model']}"
        )
