"""Run the demo: prepare the data, then every step of the plan through the public `genrobust` CLI.

Each step runs the `genrobust` command line it echoes, so the output shows what a user would type. The
caller passes the function that runs one (`cli/demo.py` runs it in this process, the same click
command a `genrobust ...` process would run: a fresh interpreter per step would spend seconds importing
torch, diffusers and DeepSpeed again, a large share of the demo on a 2-core machine). A step that
finished with the same command line is skipped on a rerun (a marker under <out>/_steps/ is written
after success); the commands are also collected in <out>/commands.sh.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from ..config import config_to_dict
from ..errors import GenrobustError
from ..fileio import atomic_write_json, atomic_write_text
from .fashion_mnist import convert_split, write_class_file
from .plan import DemoConfig, Layout, Step, plan
from .shift_benchmark import TEST_SHIFTS, write_test_shifts
from .shifts import generator_templates
from .summary import summarize

log = logging.getLogger(__name__)


class DemoStepError(GenrobustError):
    """A step of the demo exited non-zero."""


def prepare_data(cfg: DemoConfig) -> None:
    """Real training subsets, the clean test subset and its shifts, the class and template files."""
    lay = Layout(Path(cfg.out))
    write_class_file(lay.classes)
    atomic_write_text(lay.templates, "".join(t + "\n" for t in generator_templates()))
    for n in cfg.real_per_class:
        convert_split(cfg.fashion_mnist, "train", lay.real(n), per_class=n, seed=cfg.data_seed)
    write_test_shifts(cfg.fashion_mnist, lay.tests, per_class=cfg.test_per_class, seed=cfg.data_seed)
    if cfg.oracle:
        write_oracle_set(cfg, lay.oracle(cfg.mixed_real_per_class))


def write_oracle_set(cfg: DemoConfig, out: Path) -> Path:
    """The mixed real subset, each photo drawn in one of the generator's renditions by its own
    transforms (a seeded equal split), as a plain ImageFolder `genrobust train --generated` takes."""
    import numpy as np

    from .fashion_mnist import read_idx_split, select_per_class, to_rgb32, write_image_folder
    from .shifts import GENERATOR_RENDITIONS, RENDITIONS

    images, labels = read_idx_split(cfg.fashion_mnist, "train")
    keep = select_per_class(labels, cfg.mixed_real_per_class, cfg.data_seed)
    photos, labels = to_rgb32(images[keep]), labels[keep]
    which = np.random.default_rng([cfg.data_seed, 17]).permutation(len(labels)) % len(GENERATOR_RENDITIONS)
    for r, name in enumerate(GENERATOR_RENDITIONS):
        photos[which == r] = RENDITIONS[name].transform(photos[which == r], seed=cfg.data_seed + r)
    source = {"dataset": "fashion-mnist", "split": "train", "renditions": list(GENERATOR_RENDITIONS)}
    return write_image_folder(photos, labels, out, {**source, "per_class": cfg.mixed_real_per_class})


# Runs `genrobust <argv>` and returns its exit status.
CommandRunner = Callable[[tuple[str, ...]], int]


def run_demo(
    cfg: DemoConfig, echo: Callable[[str], None], run_command: CommandRunner, dry_run: bool = False
) -> dict:
    """Run (or with dry_run, only list) the demo; returns the summary dict (also written to summary.json)."""
    lay = Layout(Path(cfg.out))
    steps = plan(cfg)
    lay.root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(lay.root / "demo_config.json", config_to_dict(cfg))
    atomic_write_text(
        lay.root / "commands.sh", "#!/bin/sh\nset -e\n" + "".join(s.command_line + "\n" for s in steps)
    )
    if dry_run:
        for step in steps:
            echo(f"$ {step.command_line}")
        return {"steps": [s.command_line for s in steps]}
    started = time.perf_counter()
    echo(
        f"== preparing Fashion-MNIST under {lay.data} (real subsets {list(cfg.real_per_class)} per class, "
        f"test {cfg.test_per_class} per class + shifts: {', '.join(TEST_SHIFTS)})"
    )
    prepare_data(cfg)
    timings = {"prepare": round(time.perf_counter() - started, 1)}
    baseline_failed = False
    for step in steps:
        if step.name == "report" and baseline_failed:
            step = without_baselines(step)
        try:
            timings[step.name] = run_step(step, lay, echo, run_command)
        except DemoStepError as exc:
            if step.name != "fit-baseline":
                raise
            # Real-only models with the same clean accuracy (e.g. all at chance after a very short run)
            # give no line to fit; the report is still worth having, without effective robustness.
            echo(f"== no baseline fit, so no effective robustness in the report: {exc}")
            baseline_failed = True
    summary = summarize(lay, cfg, timings)
    atomic_write_json(lay.root / "summary.json", summary["data"])
    atomic_write_text(lay.root / "summary.txt", summary["text"])
    echo(summary["text"])
    return summary["data"]


def without_baselines(step: Step) -> Step:
    argv = list(step.argv)
    at = argv.index("--baselines")
    return Step(step.name, tuple(argv[:at] + argv[at + 2 :]))


def run_step(step: Step, lay: Layout, echo: Callable[[str], None], run_command: CommandRunner) -> float:
    marker = lay.steps / f"{step.name}.json"
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("argv") == list(step.argv):
            echo(f"== {step.name}: done earlier, skipped")
            return float(done.get("seconds", 0.0))  # the summary's timings stay those of the run
    echo(f"\n$ {step.command_line}")
    started = time.perf_counter()
    status = run_command(step.argv)
    seconds = round(time.perf_counter() - started, 1)
    if status != 0:
        raise DemoStepError(
            f"step {step.name!r} failed with exit status {status} after {seconds} s; the command was\n  "
            f"{step.command_line}\nfix the problem it printed and run the demo again (finished steps are "
            "skipped)"
        )
    atomic_write_json(marker, {"argv": list(step.argv), "seconds": seconds})
    return seconds
