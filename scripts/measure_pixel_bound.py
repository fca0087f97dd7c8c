"""Measure how far generated pixels move across speed settings: the bound the README states.

    python scripts/measure_pixel_bound.py --out build/pixel-bound [--per-class 4]

Generates the same small job (PNG, so the pixels are exact) with the tiny model and the shipped demo
generator under several settings -- batch size, torch threads, CPU capability (AVX2 forced through
ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA) and backend (torch, ONNX Runtime fp32) -- each in its own
process, and prints the largest and mean absolute difference (uint8 levels) of each run against the
first. `genrobust_fast.generation.reproducibility.PIXEL_BOUND` is set from these figures, with headroom.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
# (name, batch size, threads, extra environment, backend)
SETTINGS = [
    ("b4-t1", 4, 1, {}, "torch"),
    ("b1-t1", 1, 1, {}, "torch"),
    ("b3-t2", 3, 2, {}, "torch"),
    ("b8-t2-avx2", 8, 2, AVX2, "torch"),
    ("b2-t1-avx2", 2, 1, AVX2, "torch"),
    ("b4-t2-ort", 4, 2, {}, "onnxruntime"),
    ("b1-t1-ort-avx2", 1, 1, AVX2, "onnxruntime"),
]


def pixels(root: Path) -> dict[str, np.ndarray]:
    return {
        str(p.relative_to(root)): np.asarray(Image.open(p).convert("RGB"), dtype=np.int16)
        for p in sorted(root.glob("*/*.png"))
    }


def run(
    model: str,
    classes: Path,
    out: Path,
    engines: Path,
    batch: int,
    threads: int,
    env: dict,
    backend: str,
    per_class: int,
    steps: int,
    scheduler: str,
    guidance: float,
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "genrobust_fast",
        "generate",
        "--model",
        model,
        "--classes",
        str(classes),
        "--per-class",
        str(per_class),
        "--strategy",
        "templates",
        "--steps",
        str(steps),
        "--scheduler",
        scheduler,
        "--guidance",
        str(guidance),
        "--batch-size",
        str(batch),
        "--backend",
        backend,
        "--engine-dir",
        str(engines),
        "--image-format",
        "png",
        "--out",
        str(out),
        "--no-progress",
        "--json",
    ]
    full_env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GENROBUST_ORT_THREADS": str(threads), **env}
    subprocess.run(cmd, env=full_env, check=True, stdout=subprocess.DEVNULL)


def build_engine(model: str, engines: Path, size: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "genrobust_fast",
            "engine",
            "build",
            "--model",
            model,
            "--backend",
            "onnxruntime",
            "--size",
            size,
            "--batch",
            "1:4:16",
            "--engine-dir",
            str(engines),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/pixel-bound"))
    parser.add_argument("--per-class", type=int, default=4)
    args = parser.parse_args()
    from genrobust_fast.demo.fashion_mnist import write_class_file
    from genrobust_fast.demo.plan import DemoConfig

    demo = DemoConfig()
    args.out.mkdir(parents=True, exist_ok=True)
    tiny_classes = args.out / "tiny-classes.tsv"
    tiny_classes.write_text("n01440764\ttench\nn01443537\tgoldfish\nn01484850\tgreat white shark\n")
    models = [
        ("tiny", "tiny", tiny_classes, "32x32", 10, "pndm", 7.5),
        (
            "demo-generator",
            str(demo.generator),
            write_class_file(args.out / "fashion-classes.tsv"),
            f"{demo.image_size}x{demo.image_size}",
            demo.steps,
            demo.scheduler,
            demo.guidance,
        ),
    ]
    table = []
    for name, model, classes, size, steps, scheduler, guidance in models:
        engines = args.out / name / "engines"
        build_engine(model, engines, size)
        reference = None
        for setting, batch, threads, env, backend in SETTINGS:
            out = args.out / name / setting
            run(
                model,
                classes,
                out,
                engines,
                batch,
                threads,
                env,
                backend,
                args.per_class,
                steps,
                scheduler,
                guidance,
            )
            got = pixels(out)
            if reference is None:
                reference = got
                continue
            diffs = [np.abs(got[k] - reference[k]) for k in reference]
            row = {
                "model": name,
                "setting": setting,
                "vs": SETTINGS[0][0],
                "images": len(diffs),
                "max": int(max(d.max() for d in diffs)),
                "mean": float(np.mean([d.mean() for d in diffs])),
                "identical_images": sum(int(not d.any()) for d in diffs),
            }
            table.append(row)
            print(json.dumps(row), flush=True)
    worst = {"max": max(r["max"] for r in table), "mean": max(r["mean"] for r in table)}
    print(json.dumps({"worst": worst}))


if __name__ == "__main__":
    main()
