"""`genrobust generate`: parsing only; see genrobust_fast.generation."""

from __future__ import annotations

import json

import click

from ..engines.builtin import BUILTIN_MODELS
from ..generation.config import IMAGE_FORMATS, OUTPUT_FORMATS, STRATEGIES, GenerateConfig
from .options import (
    backend_option,
    config_option,
    defaults_of,
    hub_options,
    json_option,
    parse_size,
    precision_option,
)

helped = defaults_of(GenerateConfig)


def _size(ctx, param, value):
    return None if value is None else list(parse_size(value))


@click.command()
@click.option(
    "--model",
    default=None,
    help=helped(
        "Diffusers model folder (SD 1.x, 2.x, SDXL, few-step), Hub id (owner/name), or a built-in: "
        f"{', '.join(BUILTIN_MODELS)}.",
        "model",
    ),
)
@hub_options
@click.option(
    "--classes",
    default=None,
    help="imagenet, imagenet100, imagenet_r, imagenet_a, a 'wnid<TAB>name' FILE, "
    "or a class-folder tree.  [default: --real's classes, else imagenet]",
)
@click.option(
    "--per-class", type=int, default=None, help=helped("Images per class (text strategies).", "per_class")
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default=None,
    help=helped(
        "Conditioning: 'a photo of a {name}', the 80 CLIP templates, --prompts, img2img or image variations.",
        "strategy",
    ),
)
@click.option(
    "--real",
    default=None,
    type=click.Path(file_okay=False),
    help="Real ImageFolder tree for img2img/variation.",
)
@click.option(
    "--per-real",
    type=int,
    default=None,
    help=helped("Images per real image (img2img/variation).", "per_real"),
)
@click.option(
    "--prompts", default=None, type=click.Path(dir_okay=False), help="'class_id<TAB>prompt' lines or JSONL."
)
@click.option(
    "--templates",
    default=None,
    type=click.Path(dir_okay=False),
    help="Strategy templates: a file of templates, one a line with {} for the class name.  "
    "[default: the 80 CLIP ImageNet templates]",
)
@click.option("--negative-prompt", default=None, help="Negative prompt (the unconditional half of guidance).")
@click.option("--strength", type=float, default=None, help=helped("img2img strength in (0, 1].", "strength"))
@click.option("--steps", type=int, default=None, help=helped("Denoising steps.", "steps"))
@click.option(
    "--guidance",
    type=float,
    default=None,
    help=helped("Classifier-free guidance scale (<= 1: off).", "guidance"),
)
@click.option(
    "--scheduler",
    default=None,
    help=helped(
        "pndm, ddim, euler, euler_a, dpm++, unipc, lms, heun; few-step: lcm, turbo (trailing Euler a, "
        "1-4 steps, --guidance 0); model (the one the model folder ships); or a diffusers scheduler class.",
        "scheduler",
    ),
)
@click.option("--size", default=None, callback=_size, help="HxW, e.g. 512x512.  [default: the model's size]")
@click.option(
    "--batch-size",
    type=int,
    default=None,
    help=helped("Images per UNet call (x2 with guidance).", "batch_size"),
)
@backend_option(default=None, help=helped("Inference backend.", "backend"))
@precision_option(default=None, help="Default fp32 on CPU, fp16 on GPU.")
@click.option("--device", default=None, help=helped("auto, cpu, cuda or cuda:N.", "device"))
@click.option(
    "--engine-dir",
    default=None,
    type=click.Path(file_okay=False),
    help=helped("Engine cache folder.", "engine_dir"),
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help=helped("Job seed; each image's seed derives from (seed, class, index).", "seed"),
)
@click.option("--out", default=None, type=click.Path(file_okay=False), help=helped("Output folder.", "out"))
@click.option(
    "--format",
    "format",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help=helped("<out>/<class>/<class>_<index>.<ext>, or tar shards.", "format"),
)
@click.option(
    "--image-format", type=click.Choice(IMAGE_FORMATS), default=None, help=helped("", "image_format")
)
@click.option("--quality", type=int, default=None, help=helped("JPEG/WebP quality.", "quality"))
@click.option(
    "--shards",
    type=int,
    default=None,
    help="Job shards (files shard-k-of-N).  [default: workers, or 1 per 10k images]",
)
@click.option(
    "--shard",
    default=None,
    help="Run worker K of N ('K/N'); default RANK/WORLD_SIZE under torchrun/deepspeed.",
)
@click.option(
    "--writer-threads",
    type=int,
    default=None,
    help=helped("Encode/write threads.", "writer_threads"),
)
@click.option(
    "--dedup",
    is_flag=True,
    default=None,
    help="Drop near-duplicates within each class when the job is complete.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the plan (shards, sizes, progress, size estimate) and exit."
)
@click.option("--show-shard", type=int, default=None, help="With --dry-run: list the work of shard K.")
@click.option(
    "--verify",
    "verify_outputs",
    is_flag=True,
    help="Also re-hash every recorded image against its sha256 (sizes and tar headers are always checked).",
)
@click.option(
    "--verify-against-diffusers",
    "verify_n",
    type=click.IntRange(min=1),  # checked before the job, not after it
    default=None,
    help="Regenerate N random images of the finished job with diffusers and report the pixel difference.",
)
@json_option
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@config_option
def generate(
    dry_run, show_shard, verify_outputs, verify_n, as_json, no_progress, config_path, **options
) -> None:
    """Generate an ImageNet-G-style dataset: sharded, resumable, reproducible per image.

    \b
    Examples:
      genrobust generate --model tiny --classes imagenet100 --per-class 2 --steps 20 --out gen/
      genrobust generate --model stable-diffusion-v1-5/stable-diffusion-v1-5 --revision main \\
          --classes imagenet100 --per-class 2 --steps 20 --out gen-sd15/
      genrobust generate --model sd15/ --classes imagenet --per-class 1300 --strategy templates \\
          --scheduler dpm++ --steps 25 --format webdataset --out /data/imagenet-g --dry-run
      torchrun --nproc-per-node 8 -m genrobust_fast generate --config gen.yaml   # RANK/WORLD_SIZE shards
    """
    from ..config import resolve_config

    cfg = resolve_config(GenerateConfig, config_path, options)
    if show_shard is not None and not dry_run:
        raise click.BadParameter("only with --dry-run", param_hint="--show-shard")
    if dry_run:
        from ..generation.dryrun import plan_report

        report = plan_report(cfg, show_shard=show_shard)
        click.echo(json.dumps(report, indent=2) if as_json else _describe_plan(report))
        return
    from ..generation.dataset import generate_dataset

    summary = generate_dataset(
        cfg, progress=not (no_progress or as_json), verify=verify_outputs, verify_against_diffusers=verify_n
    )
    click.echo(json.dumps(summary) if as_json else _describe_summary(summary))
    if summary["failures"]:
        raise click.ClickException(
            f"{summary['failures']} image(s) failed (see the log); rerun the same command to retry them"
        )


def _describe_summary(s: dict) -> str:
    stages = ", ".join(f"{name} {sec:.1f} s" for name, sec in s["stage_seconds"].items() if sec)
    lines = [
        (
            f"generated {s['images']} image(s), {s['failures']} failure(s), in {s['seconds']:.1f} s "
            f"({s['images_per_s']:.1f} img/s, {s['backend']} {s['precision']}); stages: {stages}"
        ),
        f"shards complete: {s['shards_complete']}/{s['num_shards']}; output: {s['out']}",
    ]
    if s.get("repaired", {}).get("images"):
        r = s["repaired"]
        lines.append(
            f"repaired: {r['images']} recorded image(s) of shard(s) {r['shards']} were missing or damaged "
            f"and were regenerated (e.g. {'; '.join(r['problems'])})"
        )
    if isinstance(s.get("dedup"), dict):
        lines.append(f"dedup: dropped {s['dedup']['dropped']} near-duplicate(s)")
    elif s.get("dedup"):
        lines.append(f"dedup: {s['dedup']}")
    if s.get("verify"):
        v = s["verify"]
        diffs = ", ".join(f"{r['backend']} {r['precision']} {r['max_abs_diff']}" for r in v["results"])
        lines.append(
            f"verify against diffusers on {v['images']} image(s), largest pixel difference (0-255): "
            f"{diffs}; stored {v['stored_format']} files {v['stored_file_max_abs_diff']}"
            + ("" if v["stored_format"] == "png" else " (lossy encoding)")
        )
    return "\n".join(lines)


def _describe_plan(r: dict) -> str:
    gib = r["estimated_bytes"] / 2**30
    lines = [
        f"job {r['job_id'][:16]} -> {r['out']}"
        + (" (existing job: resuming)" if r["existing_job"] else " (new)"),
        (
            f"  {r['total_images']:,} images, {r['classes']} classes ({r['images_per_class']['min']}-"
            f"{r['images_per_class']['max']} per class), strategy {r['strategy']}"
        ),
        (
            f"  {r['shards']['count']} shards of {r['shards']['images_min']:,}-{r['shards']['images_max']:,} "
            f"images; complete {r['shards']['complete']}, partial {r['shards']['partial']}"
        ),
        f"  finished {r['finished_images']:,}, remaining {r['remaining_images']:,}",
        (
            f"  this worker {r['worker']['index']}/{r['worker']['workers']}: {r['worker']['shards']} shards, "
            f"{r['worker']['images_left']:,} images left"
        ),
        f"  estimated output {gib:.2f} GiB ({r['estimated_bytes_source']})",
    ]
    if "shard_items" in r:
        s = r["shard_items"]
        lines.append(f"  shard {s['shard']} ({s['images']:,} images), first {len(s['shown'])}:")
        for it in s["shown"]:
            lines.append(
                f"    {it['class_id']}_{it['index']:07d} seed={it['seed']} prompt={it['prompt']!r}"
                + (f" source={it['source_image']}" if it["source_image"] else "")
            )
    return "\n".join(lines)
