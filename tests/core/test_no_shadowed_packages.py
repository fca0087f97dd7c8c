"""The test tree cannot shadow an installed package (issue 23).

A folder `tests/kernels/` without a parent package made pytest put `tests/` on sys.path, so our test
package *was* the top-level `kernels` — and when transformers began importing the Hugging Face `kernels`
package, 129 tests failed on a fresh clone. Now every test folder is a package under `tests`, pytest puts
only the repository root on sys.path, and these tests keep it so.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
OUR_DISTRIBUTION = "genrobust-fast"


def names_on_path_entry(folder: Path) -> set[str]:
    """Top-level names that `folder`, as a sys.path entry, makes importable: modules, packages and the
    folders an import would take as namespace packages (those merge with an installed namespace)."""
    names = set()
    for child in folder.iterdir():
        if child.is_dir() and child.name.isidentifier():
            names.add(child.name)
        elif child.suffix == ".py" and child.stem.isidentifier():
            names.add(child.stem)
    return names


def environment_names() -> dict[str, list[str]]:
    """{top-level import name: [what provides it]} for the standard library and every installed
    distribution but ours."""
    owners: dict[str, list[str]] = {
        name: ["the standard library"] for name in (*sys.stdlib_module_names, *sys.builtin_module_names)
    }
    for name, dists in importlib.metadata.packages_distributions().items():
        others = [dist for dist in dists if dist.lower().replace("_", "-") != OUR_DISTRIBUTION]
        if others:
            owners.setdefault(name, []).extend(others)
    return owners


def clashes(folder: Path, owners: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: owners[name] for name in sorted(names_on_path_entry(folder)) if name in owners}


def test_every_test_folder_is_a_package_so_pytest_never_puts_it_on_sys_path():
    folders = {path.parent for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts}
    missing = sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"add an __init__.py to {missing}: pytest would put each on sys.path"


def test_no_sys_path_entry_inside_the_repo_makes_an_installed_name_importable():
    entries = {Path(entry or ".").resolve() for entry in sys.path}
    venv = Path(sys.prefix).resolve()  # .venv lives in the repository; its site-packages is not ours
    ours = [e for e in entries if e.is_relative_to(REPO) and not e.is_relative_to(venv)]
    assert ours, "pytest should put the repository root (the `tests` package's parent) on sys.path"
    assert all(entry == REPO for entry in ours), f"a folder below the root is on sys.path: {ours}"
    owners = environment_names()
    assert "json" in owners and "torch" in owners  # the table holds the stdlib and installed packages
    found = clashes(REPO, owners)
    assert not found, f"these repository names are also installed modules, rename them: {found}"


def test_the_check_finds_a_test_folder_named_like_an_installed_package(tmp_path):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "__init__.py").touch()
    (tmp_path / "json.py").touch()
    (tmp_path / "my_helpers.py").touch()
    (tmp_path / "not-an-identifier").mkdir()
    owners = {"kernels": ["kernels"], "json": ["the standard library"]}
    assert clashes(tmp_path, owners) == {"json": ["the standard library"], "kernels": ["kernels"]}
    assert "json" in environment_names()
