"""The locked environment: which lock files describe this interpreter, and whether what is installed matches.

The locks live in the repository's `requirements/` folder (made by `make lock`, see README): one file of
packages installed with their dependencies resolved together, one of packages installed with --no-deps.
Both are pip requirement files of `name==version` lines with hashes. Runnable as
`python -m genrobust_fast.lockfile [--strict] [LOCK ...]`: `make install` runs it to prove the install is
exactly the lock. It imports nothing heavy, so it is quick enough for that.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: `Foo_Bar.baz` and `foo-bar-baz` name the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_names(python: str | None = None, machine: str | None = None) -> tuple[str, str]:
    """File names of the main and the --no-deps lock for a Python version ("3.11") and machine."""
    python = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    machine = (machine or platform.machine()).lower()
    stem = f"lock-py{python}-linux-{machine}"
    return f"{stem}.txt", f"{stem}-no-deps.txt"


def default_lock_files() -> list[Path]:
    """This interpreter's lock files (GENROBUST_LOCK_DIR, else the repository's requirements/)."""
    folder = Path(os.environ.get("GENROBUST_LOCK_DIR") or REPO_REQUIREMENTS)
    return [folder / name for name in lock_names()]


def read_pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of every `name==version` line; hashes, comments and options skipped."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical_name(match.group(1))] = match.group(2)
    return pins


@dataclass
class LockComparison:
    lock_files: list[str]
    locked: int = 0
    missing: list[str] = field(default_factory=list)  # locked, not installed
    different: list[tuple[str, str, str]] = field(default_factory=list)  # (name, installed, locked)
    problem: str | None = None  # why no comparison could be made

    @property
    def matches(self) -> bool:
        return self.problem is None and not self.missing and not self.different

    def summary(self) -> str:
        if self.problem:
            return self.problem
        if self.matches:
            return f"matches the lock ({self.locked} packages; {', '.join(self.lock_files)})"
        parts = [f"{name} {have} installed, {want} locked" for name, have, want in self.different]
        parts += [f"{name} not installed" for name in self.missing]
        return (
            f"differs from the lock in {len(parts)} of {self.locked} packages: {'; '.join(parts)} "
            "(fix: `make install` installs exactly the lock)"
        )


def installed_versions() -> dict[str, str]:
    return {
        canonical_name(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }


def compare_with_lock(lock_files: list[Path] | None = None) -> LockComparison:
    """Compare the installed distributions with every pin in the lock files."""
    lock_files = default_lock_files() if lock_files is None else lock_files
    result = LockComparison([str(path) for path in lock_files])
    absent = [path for path in lock_files if not path.is_file()]
    if absent:
        py = platform.python_version()
        result.problem = (
            f"no lock for this interpreter (Python {py}, {platform.machine()}): {absent[0]} does not exist; "
            "the locks cover the Python version and platform named in their file names"
        )
        return result
    pins: dict[str, str] = {}
    for path in lock_files:
        pins.update(read_pins(path))
    have = installed_versions()
    result.locked = len(pins)
    for name, version in sorted(pins.items()):
        if name not in have:
            result.missing.append(name)
        elif have[name] != version:
            result.different.append((name, have[name], version))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare the installed packages with the lock.")
    parser.add_argument("locks", nargs="*", type=Path, help="lock files (default: this interpreter's)")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless everything matches")
    args = parser.parse_args(argv)
    comparison = compare_with_lock(args.locks or None)
    print(comparison.summary())
    return 1 if args.strict and not comparison.matches else 0


if __name__ == "__main__":
    sys.exit(main())
