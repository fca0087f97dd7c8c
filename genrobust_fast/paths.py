"""Paths read from files the toolkit wrote are data, not trusted paths.

State files, checkpoint tags and metadata records name files relative to their folder. A damaged or edited
record ("../../x", "/etc", "") must not make a later read, delete or export act outside that folder, so
every such path goes through `contained`:

    folder = contained(work, latest["dir"], source=work / "latest.json", fix="delete it to restart")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import DatasetError, InputError


def contained(root: str | os.PathLike, relative: Any, *, source: str | os.PathLike, fix: str) -> Path:
    """`root / relative`, resolved (symlinks followed), or a DatasetError when it is not strictly inside
    `root`: absolute, climbing out with "..", leading out through a symlink, empty, or `root` itself.

    `source` is the file `relative` was read from and `fix` what the user can do; both go in the message.
    """
    base = Path(root).resolve()
    problem = None
    if not isinstance(relative, str) or not relative.strip():
        problem = "no path"
    elif "\0" in relative:
        problem = "a NUL byte"
    else:
        target = (base / relative).resolve()
        if target != base and target.is_relative_to(base):
            return target
        problem = "a path outside it"
    raise DatasetError(
        f"{source} names {relative!r}, {problem} for folder {str(root)!r}; the file is damaged or was "
        f"edited, so it is not followed: {fix}"
    )


def refuse_output_inside_inputs(out: str | os.PathLike, inputs: dict[str, Any]) -> None:
    """InputError when the output folder `out` is an input folder or inside one ({flag: path}; None and
    non-folders are skipped): a job would write among its inputs, e.g. generated JPEGs into the real class
    folders img2img reads, or checkpoints/ into a tree where it is read as a class."""
    target = Path(out).resolve()
    for flag, path in inputs.items():
        if not path or not Path(path).is_dir():
            continue
        folder = Path(path).resolve()
        if target.is_relative_to(folder):
            where = "the same folder as" if target == folder else "inside"
            raise InputError(
                f"--out {str(out)!r} is {where} {flag} {str(path)!r}: the job would write its outputs "
                "among its inputs; choose an --out outside every input folder"
            )


def refuse_report_among_inputs(report: str | os.PathLike | None, flag: str, inputs: dict[str, Any]) -> None:
    """InputError when writing the file `report` (given as `flag`) would replace an input: it is an input
    file, or a file that exists inside an input folder ({flag: path}; None skipped). `data check real/
    --report real/cls/img.JPEG` replaced an image with JSON; `fit-baseline results.jsonl --out
    results.jsonl` replaced the results with the fit. A new file beside the inputs is left alone."""
    if report is None:
        return
    target = Path(report).resolve()
    for input_flag, path in inputs.items():
        if not path:
            continue
        source = Path(path).resolve()
        if target == source or (source.is_dir() and target.is_relative_to(source) and target.exists()):
            what = input_flag if target == source else f"a file of {input_flag}"
            raise InputError(
                f"{flag} {str(report)!r} would replace {what} {str(path)!r}; write it to a new file outside "
                "the inputs"
            )
