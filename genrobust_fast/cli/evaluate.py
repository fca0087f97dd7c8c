"""`genrobust eval`, `genrobust report`, `genrobust fit-baseline`: parsing only; logic in evaluation/."""

from __future__ import annotations

import json

import click

from ..labels import read_class_map
from .options import device_option


def _parse_pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=option)
        out[key] = rest
    return out


@click.command("eval")
@click.option(
    "--checkpoint", type=click.Path(dir_okay=False), help="model.safetensors of a genrobust training run."
)
@click.option("--arch", help="torchvision architecture (with --weights), e.g. resnet50.")
@click.option(
    "--weights",
    type=click.Path(dir_okay=False),
    help="torchvision ImageNet-1k state dict (.pth/.safetensors).",
)
@click.option("--name", help="Model name in results and plots (default: run folder or arch:weights).")
@click.option(
    "--benchmark",
    "benchmarks",
    multiple=True,
    required=True,
    metavar="NAME=DIR",
    help="Benchmark and its folder; repeatable. folder:NAME=DIR / generated:NAME=DIR for your own sets.",
)
@click.option(
    "--class-policy",
    type=click.Choice(["mask", "full"]),
    default="mask",
    show_default=True,
    help="mask: argmax over the benchmark's classes; full: over all the model's classes.",
)
@click.option(
    "--tta",
    type=click.Choice(["none", "flip"]),
    default="none",
    show_default=True,
    help="flip: average logits of the image and its mirror (the paper's code did this).",
)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--num-workers", type=int, default=4, show_default=True, help="DataLoader decode processes.")
@device_option
@click.option(
    "--id-benchmark",
    "pairings",
    multiple=True,
    metavar="SHIFT=ID",
    help="ID axis for a custom benchmark's effective robustness, e.g. fmnist-blur=fmnist-test.",
)
@click.option(
    "--class-map",
    "class_maps",
    multiple=True,
    metavar="NAME=FILE",
    help="Folder -> class id map (JSON object or TSV) for a folder benchmark.",
)
@click.option(
    "--objectnet-border/--no-objectnet-border",
    default=True,
    show_default=True,
    help="Crop ObjectNet's 2-pixel red border before preprocessing.",
)
@click.option("--force", is_flag=True, help="Evaluate partial downloads (recorded as incomplete).")
@click.option("--redo", is_flag=True, help="Re-evaluate pairs already in the results file.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder of results.jsonl.")
def eval_command(
    checkpoint,
    arch,
    weights,
    name,
    benchmarks,
    class_policy,
    tta,
    batch_size,
    num_workers,
    device,
    pairings,
    class_maps,
    objectnet_border,
    force,
    redo,
    out,
) -> None:
    """Evaluate a classifier on shift benchmarks; one JSON line per (model, benchmark) in OUT/results.jsonl.

    \b
    Examples:
      genrobust eval --checkpoint run/model.safetensors --benchmark imagenet-val=/data/val \\
          --benchmark imagenet-r=/data/imagenet-r --out results/
      genrobust eval --arch resnet50 --weights resnet50.pth --benchmark objectnet=/data/objectnet-1.0 \\
          --out results/
    """
    from pathlib import Path

    from ..evaluation.models import load_eval_model
    from ..evaluation.registry import parse_benchmark_arg, with_pairing
    from ..evaluation.runner import BenchmarkRequest, EvalOptions, evaluate

    pair_of = _parse_pairs(pairings, "--id-benchmark")
    maps = {k: read_class_map(v) for k, v in _parse_pairs(class_maps, "--class-map").items()}
    requests = []
    for text in benchmarks:
        spec, root = parse_benchmark_arg(text)
        requests.append(
            BenchmarkRequest(with_pairing(spec, pair_of.get(spec.name)), Path(root), maps.get(spec.name))
        )
    model = load_eval_model(checkpoint=checkpoint, arch=arch, weights=weights, name=name)
    options = EvalOptions(
        class_policy=class_policy,
        batch_size=batch_size,
        device=device,
        num_workers=num_workers,
        tta=tta,
        force=force,
        redo=redo,
        border_crop=None if objectnet_border else 0,
    )
    rows = evaluate(model, requests, out, options)
    for row in rows:
        m = row["metrics"]
        click.echo(
            f"{row['model']['name']}  {row['benchmark']:<28} top1 {m['top1']:6.2f}  top5 {m['top5']:6.2f}"
            f"  n={row['n']}  ({row['class_policy']}, tta={row['tta']})"
        )
    if not rows:
        click.echo("nothing to do: every pair is already in the results (pass --redo to re-evaluate)")


@click.command("report")
@click.argument("results", type=click.Path(exists=True))
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for CSV, Markdown and PNGs."
)
@click.option(
    "--baselines",
    type=click.Path(dir_okay=False),
    help="Baseline fits from `genrobust fit-baseline`; they take precedence over the shipped testbed fits.",
)
def report(results, out, baselines) -> None:
    """Write a tidy CSV, a Markdown table (accuracy and effective robustness) and shift-vs-ID plots.

    \b
    Example:
      genrobust report results/results.jsonl --out report/
    """
    from ..evaluation.report import write_report
    from ..evaluation.results import read_results
    from ..evaluation.robustness import load_baselines

    fits = (load_baselines(baselines) if baselines else []) + load_baselines()
    written = write_report(read_results(results), out, fits)
    click.echo(json.dumps(written, indent=2))


@click.command("fit-baseline")
@click.argument("results", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON file of the fitted lines.")
@click.option(
    "--models",
    multiple=True,
    metavar="GLOB",
    help="Model names to fit on (e.g. your real-only runs); repeatable; default all.",
)
@click.option(
    "--bootstrap", type=click.IntRange(min=1), default=1000, show_default=True, help="Resamples for the band."
)
@click.option("--seed", type=int, default=0, show_default=True)
def fit_baseline(results, out, models, bootstrap, seed) -> None:
    """Refit the effective-robustness baseline (OLS in logit space, bootstrap band) on your own models.

    \b
    Example:
      genrobust fit-baseline results/results.jsonl --models 'real-*' --out fits.json
      genrobust report results/results.jsonl --baselines fits.json --out report/
    """
    from ..evaluation.results import read_results
    from ..evaluation.robustness import fit_baselines
    from ..fileio import atomic_write_json
    from ..paths import refuse_report_among_inputs

    refuse_report_among_inputs(out, "--out", {"RESULTS": results})  # the file, or one in the folder
    doc = fit_baselines(read_results(results), models or None, bootstrap=bootstrap, seed=seed)
    atomic_write_json(out, doc)
    for fit in doc["fits"]:
        click.echo(
            f"{fit['shift']} vs {fit['id_benchmark']}: slope {fit['slope']:.4f} intercept "
            f"{fit['intercept']:.4f} ({fit['n_models']} models)"
        )
