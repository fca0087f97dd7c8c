"""The results file: one JSON line per (model, benchmark), appended atomically.

`<out>/results.jsonl` is rewritten to a temp name and renamed under an exclusive lock, so several
evaluation processes can share an output folder and a killed one never leaves half a line.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputError
from ..fileio import atomic_write_text
from ..outlock import lock_output

RESULTS_NAME = "results.jsonl"
ROW_FORMAT = "genrobust-eval/1"


def results_path(out: str | Path) -> Path:
    """<out>/results.jsonl (or `out` itself when it names a .jsonl file); something else already there
    under that name (a folder, a pipe) is an InputError before any model is evaluated."""
    out = Path(out)
    path = out if out.suffix == ".jsonl" else out / RESULTS_NAME
    if path.exists() and not path.is_file():
        raise InputError(
            f"{str(path)!r} exists and is not a file; results are written there: move it away or choose "
            "another --out"
        )
    return path


def row_key(row: dict[str, Any]) -> tuple:
    """What makes two rows the same evaluation (a rerun replaces the older row)."""
    return (row["model"]["weights_sha256"], row["benchmark"], row["class_policy"], row["tta"])


def read_results(path: str | Path, allow_empty: bool = False) -> list[dict[str, Any]]:
    """The rows of a results file (or of <folder>/results.jsonl); a file without rows is an error unless
    `allow_empty` (a report or a fit of nothing would look like a result)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_NAME
    if not path.is_file():
        raise InputError(
            f"results file {str(path)!r} does not exist; run `genrobust eval ... --out DIR` first"
        )
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: not a JSON line ({exc})") from exc
        if not isinstance(row, dict) or row.get("format") != ROW_FORMAT:
            found = row.get("format") if isinstance(row, dict) else type(row).__name__
            raise InputError(f"{path}:{lineno}: format {found!r} is not {ROW_FORMAT!r}")
        _check_accuracies(row, f"{path}:{lineno}")
        _check_shape(row, f"{path}:{lineno}")
        rows.append(row)
    if not rows and not allow_empty:
        raise InputError(
            f"results file {str(path)!r} holds no results; fill it with `genrobust eval ... --out DIR`"
        )
    return rows


_NUMBER, _TEXT = (int, float), (str,)
# What report, fit-baseline and the resume check read from a row: (keys, accepted types). A hand-edited or
# foreign line missing one would be a KeyError or TypeError far from the line that caused it.
ROW_SHAPE = (
    (("benchmark",), _TEXT),
    (("class_policy",), _TEXT),
    (("tta",), _TEXT),
    (("n",), (int,)),
    (("num_scored_classes",), (int,)),
    (("model", "name"), _TEXT),
    (("model", "weights_sha256"), _TEXT),
    (("model", "num_classes"), (int,)),
    (("metrics", "top1"), _NUMBER),
    (("metrics", "top5"), _NUMBER),
    (("metrics", "ece"), _NUMBER),
    (("metrics", "top1_ci"), (list,)),
    (("id_benchmark",), (str, type(None))),
)


def _check_shape(row: dict[str, Any], where: str) -> None:
    for keys, types in ROW_SHAPE:
        value: Any = row
        for key in keys:
            value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if keys == ("id_benchmark",) and value is _MISSING:
            continue  # rows of in-distribution benchmarks may leave it out
        ok = value is not _MISSING and isinstance(value, types) and not isinstance(value, bool)
        if ok and keys == ("metrics", "top1_ci"):
            ok = len(value) == 2 and all(isinstance(v, _NUMBER) for v in value)
        if not ok:
            found = "missing" if value is _MISSING else f"{value!r}"[:60]
            raise InputError(
                f"{where}: {'.'.join(keys)} is {found}, expected {' or '.join(t.__name__ for t in types)}; "
                "the line was not written by `genrobust eval`: rerun eval for it or remove the line"
            )


_MISSING = object()

# Accuracies are percentages, as metrics.accuracy_block writes them.
PERCENT_METRICS = ("top1", "top5", "mean_per_class_top1")


def _check_accuracies(row: dict[str, Any], where: str) -> None:
    """A row read back must hold accuracies in [0, 100]: a hand-edited `top1: 150` would move every fit,
    plot and effective robustness computed from it."""
    metrics = row.get("metrics", {})
    if not isinstance(metrics, dict):
        raise InputError(f"{where}: metrics is not an object; rerun `genrobust eval --redo` for it")
    values = [(k, metrics[k]) for k in PERCENT_METRICS if k in metrics]
    values += [("top1_ci", v) for v in metrics.get("top1_ci") or []]
    for key, value in values:
        if row.get("n") == 0 and (value is None or (isinstance(value, float) and math.isnan(value))):
            continue  # no images scored: accuracy_block writes NaN
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 100.0:
            raise InputError(
                f"{where}: {key} = {value!r} is not a percentage in [0, 100]; "
                "rerun `genrobust eval --redo` for that benchmark or remove the line"
            )


def append_results(path: str | Path, new_rows: Iterable[dict[str, Any]]) -> None:
    """Add rows (replacing rows with the same key) with one atomic rewrite."""
    path = Path(path)
    new_rows = list(new_rows)
    with lock_output(path.parent, path.name, wait=True):  # a short rewrite: others wait their turn
        rows = read_results(path, allow_empty=True) if path.is_file() else []
        replaced = {row_key(r) for r in new_rows}
        rows = [r for r in rows if row_key(r) not in replaced] + new_rows
        atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def evaluated_roots(path: str | Path) -> dict[tuple, str | None]:
    """row_key -> the resolved folder that row was evaluated on (None when the row does not say): a
    benchmark name is only done for the folder it was run on."""
    path = Path(path)
    rows = read_results(path, allow_empty=True) if path.is_file() else []
    return {row_key(r): _resolved((r.get("dataset") or {}).get("root")) for r in rows}


def _resolved(root: Any) -> str | None:
    return str(Path(root).resolve()) if isinstance(root, str) and root else None


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit (and '+dirty') when run from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}{'.dirty' if dirty else ''}" if commit else __version__
