"""Prepare, on this CPU machine, the wheels the GPU check needs and the lent GPU image lacks.

    python scripts/gpu_wheelhouse.py          # -> build/wheelhouse/*.whl + MANIFEST.json (ignored by git)

The lent image (Python 3.12; /work/.library/device/KINDS.md lists its packages) has torch 2.11 (cu130),
torchvision, transformers, huggingface_hub, onnx, a CPU onnxruntime, pytest, click, psutil, ninja, msgpack,
einops... It lacks diffusers (and importlib_metadata, lazy-importer) and DeepSpeed (and hjson, pydantic,
pydantic_core, annotated_types, typing_inspection; typing_extensions too, as pydantic needs a
newer one than the image may have). Only those travel, each pinned to the version installed
here (the one the tests passed with); benchmarks/gpu_check.py installs them there with --no-deps.
DeepSpeed publishes only an sdist, so its pure-Python wheel is built here (no prebuilt ops; the accelerator
it records, 'cpu', matters only to prebuilt ops). The project runs from the carried working tree (its C++
kernels fall back to the NumPy reference there), so no project wheel travels.

Every requirement of a carried wheel must be carried or in the image (its version checked where the
image's is known), and the wheels must stay within gpu_check.WHEEL_BUDGET so the tree and the wheels fit
one device call: both are asserted before MANIFEST.json is written. onnxruntime-gpu (~245 MiB) and DALI
(~200 MB) do not fit one call and are not carried.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARRY = (
    "diffusers",
    "importlib_metadata",
    "lazy-importer",
    "deepspeed",
    "hjson",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_inspection",
    "typing_extensions",  # pydantic needs >= 4.16, the image's version is unknown; newer ones are compatible
)
# The image's packages as read on 2026-11-17 (device KINDS.md), versions where a pip list gave them.
IMAGE_VERSIONS = {
    "huggingface-hub": "1.33.0",
    "numpy": "2.5.2",
    "onnx": "1.23.1",
    "onnxruntime": "1.30.0",
    "safetensors": "0.8.0",
    "tokenizers": "0.23.2",
    "torch": "2.11.0",
    "torchvision": "0.26.0",
    "transformers": "5.17.0",
}
IMAGE_HAS = set(IMAGE_VERSIONS) | {
    "click",
    "einops",
    "filelock",
    "fsspec",
    "httpx",
    "msgpack",
    "ninja",
    "nvidia-ml-py",
    "packaging",
    "pillow",
    "psutil",
    "py-cpuinfo",
    "pytest",
    "pyyaml",
    "regex",
    "requests",
    "tqdm",
    "typing-extensions",
    "zipp",
}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
TARGET = ["--python-version", "3.12", "--implementation", "cp", "--abi", "cp312", "--only-binary=:all:"]
TARGET += [arg for p in PLATFORMS for arg in ("--platform", p)]
# Where the image's Python evaluates environment markers.
MARKERS = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux"}
MARKERS |= {"platform_system": "Linux", "platform_machine": "x86_64", "extra": ""}


def normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def pinned(names) -> dict[str, str]:
    """name -> version installed here (the versions this checkout's tests ran with)."""
    try:
        return {name: importlib.metadata.version(name) for name in names}
    except importlib.metadata.PackageNotFoundError as exc:
        raise SystemExit(
            f"{exc.name} is not installed in {sys.executable}; run `make install` first"
        ) from None


def wheel_metadata(path: Path) -> tuple[str, str, list[str]]:
    """(name, version, Requires-Dist lines) read from the wheel itself."""
    with zipfile.ZipFile(path) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
    field = {k: v for k, _, v in (line.partition(": ") for line in lines) if k in ("Name", "Version")}
    requires = [line.split(": ", 1)[1] for line in lines if line.startswith("Requires-Dist: ")]
    return field["Name"], field["Version"], requires


def unmet(wheels: list[Path]) -> tuple[list[str], list[str]]:
    """(problems, unverified): requirements of the carried wheels that neither the wheelhouse nor the image
    meets, and those the image meets by name only (its version unknown here)."""
    from packaging.requirements import Requirement

    carried = {normal(n): v for n, v, _ in map(wheel_metadata, wheels)}
    problems, unverified = [], []
    for wheel in wheels:
        name, _, requires = wheel_metadata(wheel)
        for line in requires:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(MARKERS):
                continue
            key = normal(req.name)
            version = carried.get(key) or IMAGE_VERSIONS.get(key)
            if version is not None:
                if not req.specifier.contains(version, prereleases=True):
                    where = "carried" if key in carried else "the image's"
                    problems.append(f"{name} needs {req}, {where} is {version}")
            elif key in IMAGE_HAS:
                if req.specifier:
                    unverified.append(f"{name} needs {req}")
            else:
                problems.append(f"{name} needs {req.name}, which neither the image nor the wheelhouse has")
    return problems, unverified


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(ROOT / "build" / "wheelhouse"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    pins = pinned(CARRY)
    with tempfile.TemporaryDirectory() as tmp:
        wheels_dir = Path(tmp) / "wheels"
        binary = [f"{n}=={v}" for n, v in pins.items() if n != "deepspeed"]
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                *TARGET,
                "-d",
                str(wheels_dir),
                *binary,
            ]
        )
        # DeepSpeed's setup.py imports torch: build against this environment's, with no ops compiled.
        run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
            + ["-w", str(wheels_dir), f"deepspeed=={pins['deepspeed']}"],
            env={**os.environ, "DS_BUILD_OPS": "0"},
        )
        wheels = sorted(wheels_dir.glob("*.whl"))
        names = {normal(wheel_metadata(w)[0]) for w in wheels}
        if names != {normal(n) for n in CARRY}:
            raise SystemExit(f"expected one wheel of each of {CARRY}, got {[w.name for w in wheels]}")
        problems, unverified = unmet(wheels)
        if problems:
            raise SystemExit("the wheelhouse would not work on the image:\n  " + "\n  ".join(problems))
        check = gpu_check()
        total = sum(w.stat().st_size for w in wheels)
        if total > check.WHEEL_BUDGET:
            raise SystemExit(
                f"the wheels take {total / 2**20:.1f} MiB, over gpu_check.WHEEL_BUDGET "
                f"({check.WHEEL_BUDGET / 2**20:.0f} MiB)"
            )
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        entries = []
        for wheel in wheels:
            name, version, _ = wheel_metadata(wheel)
            shutil.copy(wheel, out / wheel.name)
            entries.append(
                {
                    "file": wheel.name,
                    "name": name,
                    "version": version,
                    "bytes": wheel.stat().st_size,
                    "sha256": sha256(wheel),
                }
            )
    manifest = {
        "format": "genrobust-wheelhouse/2",
        "python": "cp312",
        "wheels": entries,
        "image_versions_assumed": IMAGE_VERSIONS,
        "requirements_unverified": unverified,
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    lines, plan_problems = check.plan(out)
    print(f"{len(entries)} wheels, {total / 2**20:.1f} MiB in {out}")
    print("\n".join(lines))
    for line in unverified:
        print(f"unverified (the image's version is not known here): {line}")
    if plan_problems:
        raise SystemExit("\n".join(plan_problems))
    return 0


if __name__ == "__main__":
    sys.exit(main())
