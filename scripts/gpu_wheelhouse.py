"""Prepare, on this CPU machine, the wheels the GPU check installs on a machine that cannot download.

    python scripts/gpu_wheelhouse.py                 # -> build/wheelhouse/ (ignored by git)
    python scripts/gpu_wheelhouse.py --no-ort-gpu    # only the core set
    python scripts/gpu_wheelhouse.py --exclude numpy --exclude pillow   # core in one piece (the lent
                                                     # image has both, with torch)

What goes in (cp312, manylinux x86_64, the GPU image's Python), each pinned to the version installed in
this checkout's environment, i.e. the versions the tests passed with here:
  core     diffusers, transformers, tokenizers, safetensors, huggingface_hub, click, pytest and every
           dependency pip resolves for them, plus this project's own wheel, built here with a Python 3.12
  ort-gpu  onnxruntime-gpu (CUDA 13 build; its own dependencies are in the GPU image: torch's CUDA libraries)

Each set is one uncompressed tar (wheels are already compressed) split into pieces of at most
--piece-mib MiB, so that one piece and the working tree fit in one device call (64 MiB); the pieces
accumulate in the same ignored folder there over consecutive calls. MANIFEST.json lists every piece's
sha256, each set's, the pins, and a hash of the project sources the project wheel was built from, which
benchmarks/gpu_check.sh compares with the sources it runs beside.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ("diffusers", "transformers", "tokenizers", "safetensors", "huggingface_hub", "click", "pytest")
ORT_GPU = "onnxruntime-gpu"
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
TARGET = (
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--abi",
    "cp312",
    "--only-binary=:all:",
    *[arg for p in PLATFORMS for arg in ("--platform", p)],
)


def source_hash(root: Path = ROOT) -> str:
    """sha256 over the files the project wheel is built from (package, C++ sources, build files)."""
    digest = hashlib.sha256()
    files = [root / "pyproject.toml", root / "CMakeLists.txt"]
    for folder in ("genrobust_fast", "csrc"):
        files += [p for p in (root / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def pinned(names) -> list[str]:
    """name==version as installed here (the versions this checkout's tests ran with)."""
    out = []
    for name in names:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(
                f"{name} is not installed in this Python ({sys.executable}); run `make install` first"
            ) from None
    return out


def find_python312(explicit: str | None) -> str:
    candidates = (
        [explicit]
        if explicit
        else [
            shutil.which("python3.12"),
            *sorted(
                str(p) for p in Path(os.path.expanduser("~/.pyenv/versions")).glob("3.12*/bin/python3.12")
            ),
        ]
    )
    for candidate in candidates:  # a pyenv shim exists without a 3.12 selected: try each one
        if (
            candidate
            and subprocess.run(
                [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
                check=False,
                capture_output=True,
            ).returncode
            == 0
        ):
            return candidate
    raise SystemExit(
        "building the project's cp312 wheel needs a Python 3.12 here (pass --python312 PATH, "
        "or e.g. `pyenv install 3.12`)"
    )


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def pack(name: str, wheels: list[Path], out: Path, piece_bytes: int) -> dict:
    """wheels -> <name>.tar split into pieces/<name>.tar.NNN; returns the set's manifest entry."""
    pieces_dir = out / "pieces"
    pieces_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        tar_path = Path(tmp) / f"{name}.tar"
        with tarfile.open(tar_path, "w") as tar:
            for wheel in sorted(wheels):
                tar.add(wheel, arcname=wheel.name)
        pieces = []
        with open(tar_path, "rb") as f:
            for index, block in enumerate(iter(lambda: f.read(piece_bytes), b"")):
                piece = pieces_dir / f"{name}.tar.{index:03d}"
                piece.write_bytes(block)
                pieces.append(
                    {
                        "file": f"pieces/{piece.name}",
                        "bytes": len(block),
                        "sha256": hashlib.sha256(block).hexdigest(),
                    }
                )
        return {
            "tar_sha256": sha256(tar_path),
            "tar_bytes": tar_path.stat().st_size,
            "pieces": pieces,
            "wheels": sorted(w.name for w in wheels),
        }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(ROOT / "build" / "wheelhouse"))
    parser.add_argument("--piece-mib", type=float, default=55.0, help="largest piece (MiB); default 55")
    parser.add_argument("--no-ort-gpu", action="store_true", help="leave out onnxruntime-gpu (256 MB)")
    parser.add_argument("--python312", default=None, help="Python 3.12 that builds the project's wheel")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="leave out a dependency the GPU machine is known to have (e.g. numpy, pillow: the "
        "lent image's torch brings them), to save a piece; pip there then uses its own",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    core_dir, ort_dir = out / "core", out / "ort-gpu"
    core_dir.mkdir(parents=True)
    core_pins = pinned(CORE)
    run([sys.executable, "-m", "pip", "download", "-q", *TARGET, "-d", str(core_dir), *core_pins])
    for name in args.exclude:
        normal = name.lower().replace("-", "_")
        dropped = [w for w in core_dir.glob("*.whl") if w.name.split("-")[0].lower() == normal]
        if not dropped:
            raise SystemExit(f"--exclude {name}: no such wheel in the core set")
        for wheel in dropped:
            wheel.unlink()
    python312 = find_python312(args.python312)
    with tempfile.TemporaryDirectory() as build_tmp:  # a wheel build outside the tree's build/<tag> folder
        run(
            [python312, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(core_dir), str(ROOT)],
            env={**os.environ, "PIP_CACHE_DIR": str(Path(build_tmp) / "pip-cache")},
        )
    project = sorted(core_dir.glob("genrobust_fast-*.whl"))
    if len(project) != 1 or "cp312" not in project[0].name:
        raise SystemExit(f"expected one cp312 project wheel, got {[p.name for p in project]}")
    sets = {"core": pack("core", sorted(core_dir.glob("*.whl")), out, int(args.piece_mib * 2**20))}
    ort_pins: list[str] = []
    if not args.no_ort_gpu:
        ort_dir.mkdir()
        version = importlib.metadata.version(
            "onnxruntime"
        )  # the CPU build tested here; same or older GPU one
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
                str(ort_dir),
                f"{ORT_GPU}<={version}",
            ]
        )
        ort_pins = [f"{ORT_GPU}=={next(ort_dir.glob('*.whl')).name.split('-')[1]}"]
        sets["ort-gpu"] = pack("ort-gpu", sorted(ort_dir.glob("*.whl")), out, int(args.piece_mib * 2**20))
    manifest = {
        "format": "genrobust-wheelhouse/1",
        "python": "cp312",
        "platforms": list(PLATFORMS),
        "requirements": core_pins,
        "project_wheel": project[0].name,
        "ort_gpu": ort_pins,
        "excluded": args.exclude,
        "project_source_sha256": source_hash(),
        "piece_bytes_max": int(args.piece_mib * 2**20),
        "sets": sets,
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(core_dir)
    shutil.rmtree(ort_dir, ignore_errors=True)
    for name, entry in sets.items():
        sizes = ", ".join(f"{p['bytes'] / 2**20:.1f}" for p in entry["pieces"])
        print(
            f"{name}: {len(entry['wheels'])} wheels, {entry['tar_bytes'] / 2**20:.1f} MiB in "
            f"{len(entry['pieces'])} piece(s) of {sizes} MiB"
        )
    print(f"wrote {out}/MANIFEST.json and {out}/pieces/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
