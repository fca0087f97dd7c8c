"""`genrobust engine`: build, list, inspect, refit and clean cached ONNX / TensorRT engines."""

from __future__ import annotations

import json

import click

from ..engines.backends import ENGINE_BACKENDS
from ..engines.builtin import BUILTIN_MODELS, families_help
from ..engines.specs import COMPONENTS
from .options import backend_option, hub_options, json_option, parse_size, precision_option

# TensorRT builds and refits for the current CUDA device; ONNX export runs on the CPU whatever this says.
build_device_option = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="GPU that builds TensorRT engines: auto (cuda:<LOCAL_RANK> under a launcher), cuda or cuda:N.",
)
engine_dir_option = click.option(
    "--engine-dir",
    default="engines",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Engine cache folder.",
)


def parse_batch(value: str) -> tuple[int, int, int]:
    """'1:4:8' -> (1, 4, 8); '4' -> (4, 4, 4), a static batch (CUDA-graph friendly)."""
    try:
        parts = [int(p) for p in value.split(":")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 3
    if len(parts) != 3 or not 1 <= parts[0] <= parts[1] <= parts[2]:
        raise click.BadParameter(
            f"expected MIN:OPT:MAX with 1 <= MIN <= OPT <= MAX (or one number), got {value!r}"
        )
    return parts[0], parts[1], parts[2]


def parse_size_range(value: str | None):
    """'512x512' -> static size; '256x256:512x512:768x768' -> min:opt:max."""
    if value is None:
        return None, None, None
    parts = [parse_size(p) for p in value.split(":")]
    if len(parts) == 1:
        return None, parts[0], None
    if len(parts) != 3:
        raise click.BadParameter(f"expected HxW or MINHxMINW:OPTHxOPTW:MAXHxMAXW, got {value!r}")
    return parts[0], parts[1], parts[2]


def profile_options(func):
    func = click.option(
        "--no-guidance",
        is_flag=True,
        help="Profiles without classifier-free guidance (UNet batch not doubled).",
    )(func)
    func = click.option(
        "--size", default=None, help="Image size HxW (static) or MIN:OPT:MAX sizes; default the model's size."
    )(func)
    func = click.option(
        "--batch",
        default="1:1:4",
        show_default=True,
        help="Images per call MIN:OPT:MAX (TensorRT profile); one number = static.",
    )(func)
    return func


def _profile(batch: str, size: str | None, no_guidance: bool):
    from ..engines.specs import ShapeProfile

    lo, opt, hi = parse_size_range(size)
    return ShapeProfile(
        batch=parse_batch(batch), size=opt, size_min=lo, size_max=hi, guidance=not no_guidance
    )


@click.group()
def engine() -> None:
    """Build once per model, precision, shape range and GPU; generation jobs then load the cached engines.

    \b
    Example:
      genrobust engine build --model tiny --backend onnxruntime
      genrobust engine list
    """


@engine.command(epilog=families_help())
@click.option(
    "--model",
    required=True,
    help=f"Built-in model ({', '.join(BUILTIN_MODELS)}), a local diffusers folder or a Hub id (owner/name).",
)
@hub_options
@backend_option(ENGINE_BACKENDS, default="onnxruntime", show_default=True)
@precision_option(as_enum=True, default=None, help="Default: fp32 for onnxruntime, fp16 for tensorrt.")
@profile_options
@click.option(
    "--component",
    "components",
    multiple=True,
    type=click.Choice(COMPONENTS),
    help="Build only these components (repeatable); default every component the model has.",
)
@click.option("--opset", default=17, show_default=True, help="ONNX opset, 14 to 20.")
@click.option("--refittable", is_flag=True, help="TensorRT: allow `engine refit` to load new weights later.")
@click.option(
    "--force", is_flag=True, help="Rebuild engines that exist (needed when a key no longer matches)."
)
@build_device_option
@engine_dir_option
def build(
    model,
    backend,
    precision,
    batch,
    size,
    no_guidance,
    components,
    opset,
    refittable,
    force,
    device,
    engine_dir,
    **model_files,  # --revision, --variant, --cache-dir
):
    """Export ONNX files (and build TensorRT plans) into the engine cache.

    \b
    Examples:
      genrobust engine build --model tiny --backend onnxruntime
      genrobust engine build --model stable-diffusion-v1-5/stable-diffusion-v1-5 --revision main
      genrobust engine build --model /models/sd15 --backend tensorrt --precision fp16 \\
          --batch 1:4:8 --size 512x512
      genrobust engine build --model /models/sdxl-turbo --backend tensorrt --precision fp16 \\
          --batch 1:8:16 --size 512x512 --no-guidance
    """
    from ..devices import resolve_device
    from ..engines.build import build_engines
    from ..engines.models import load_components
    from ..engines.onnx_build import check_opset

    check_opset(opset)  # before the model loads
    resolve_device(device)  # makes it the current CUDA device, the one TensorRT builds for
    profile = _profile(batch, size, no_guidance)
    comps = load_components(model, **model_files)
    records = build_engines(
        comps, backend, precision, engine_dir, profile, list(components) or None, force, refittable, opset
    )
    for rec in records:
        click.echo(f"{rec.key.component:<14} {rec.bytes / 2**20:9.1f} MiB  {rec.path}")


@engine.command(name="list")
@json_option
@engine_dir_option
def list_engines(as_json, engine_dir):
    """Show every cached engine with its key fields.

    \b
    Example:
      genrobust engine list --json
    """
    from ..engines.cache import EngineCache

    records, problems = EngineCache(engine_dir).records()
    if as_json:
        click.echo(json.dumps({"engines": [r.to_json() for r in records], "problems": problems}, indent=2))
        return
    if not records:
        click.echo(f"no engines in {engine_dir}/; build one with: genrobust engine build --model tiny")
    for rec in records:
        key = rec.key
        hw = f" trt {key.tensorrt_version} sm{key.compute_capability}" if key.tensorrt_version else ""
        shapes = ""
        if key.profiles:
            first = next(iter(key.profiles.items()))
            shapes = f" {first[0]} {first[1][0]}..{first[1][2]}"
        click.echo(
            f"{rec.model:<12} {key.component:<14} {key.artifact:<8} {key.precision:<5} opset {key.onnx_opset}"
            f" weights {key.weights_sha256[:12]}{hw}{shapes} flags {','.join(key.builder_flags) or '-'}"
            f" {rec.bytes / 2**20:.1f} MiB  {rec.path}"
        )
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)


@engine.command()
@click.argument("path", type=click.Path(exists=True))
@click.option(
    "--verify", is_flag=True, help="Recompute the sha256 of the engine files (slow for large engines)."
)
def inspect(path, verify):
    """Show an engine's sidecar key, graph inputs/outputs and (with --verify) its integrity.

    \b
    Example:
      genrobust engine inspect engines/tiny/onnx-fp32/unet.onnx --verify
    """
    from ..engines.build import inspect_record
    from ..engines.cache import EngineCache, sidecar_of

    sidecar = sidecar_of(path)
    if not sidecar.is_file():
        raise click.ClickException(f"{path} has no sidecar {sidecar}; pass an engine file or its .json")
    cache = EngineCache.holding(sidecar)
    record = cache.read(sidecar)
    info = inspect_record(record, verify)
    click.echo(json.dumps(info, indent=2))
    if verify and not info["verified"]:
        raise click.ClickException(
            f"{record.path} does not match the sha256 recorded when it was built (damaged or replaced); "
            f"rebuild it with: {cache.rebuild_hint(record)}"
        )


@engine.command()
@click.option(
    "--model", default=None, help="Remove only this model's engines (built-in name, folder or Hub id)."
)
@click.option("--dry-run", is_flag=True, help="List what would be removed.")
@engine_dir_option
def clean(model, dry_run, engine_dir):
    """Remove cached engines (and unfinished builds); the folder's README stays.

    \b
    Example:
      genrobust engine clean --model tiny --dry-run
    """
    from ..engines.cache import EngineCache

    removed = EngineCache(engine_dir).clean(model, dry_run)
    for path in removed:
        click.echo(f"{'would remove' if dry_run else 'removed'} {path}")
    if not removed:
        click.echo("nothing to remove")


@engine.command()
@click.option("--model", required=True, help="Folder or Hub id with the new (e.g. finetuned) weights.")
@hub_options
@click.option("--base-model", required=True, help="Model whose refittable TensorRT engines are reused.")
@precision_option(as_enum=True, default="fp16", show_default=True)
@profile_options
@click.option(
    "--component",
    "components",
    multiple=True,
    default=("unet",),
    show_default=True,
    type=click.Choice(COMPONENTS),
)
@build_device_option
@engine_dir_option
def refit(
    model, base_model, precision, batch, size, no_guidance, components, device, engine_dir, **model_files
):
    """Load new weights into copies of refittable TensorRT engines (no rebuild).

    \b
    Example:
      genrobust engine build --model /models/sd15 --backend tensorrt --batch 1:4:8 --size 512x512 --refittable
      genrobust engine refit --base-model /models/sd15 --model runs/sd15-ft --batch 1:4:8 --size 512x512
    """
    from ..devices import resolve_device
    from ..engines.models import load_components
    from ..engines.trt_build import refit_engines

    resolve_device(device)  # makes it the current CUDA device, the one the engines are refitted on
    comps = load_components(model, **model_files)
    records = refit_engines(
        comps, base_model, precision, engine_dir, _profile(batch, size, no_guidance), list(components)
    )
    for rec in records:
        click.echo(f"refitted {rec.key.component} -> {rec.path}")
