"""Claiming an output folder for one job: read the identity recorded there, compare it with this run's
field by field, and refuse a different job naming each change ("lr: 0.1 there vs 0.01 now"), so the same
job resumes and another one never mixes into it.

    saved = read_identity(out / "job.json", advice="use another --out")
    refuse_changed(saved, ours, held=f"{out} holds a job with other settings", advice="use another --out")

Identities are compared as they read back from JSON (a tuple now equals the list recorded then).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import JobConflictError


def jsonable(value: Any) -> Any:
    """`value` as it reads back from a JSON record (tuples become lists, paths and enums strings)."""
    return json.loads(json.dumps(value, default=str))


def changed_fields(
    theirs: Mapping[str, Any], ours: Mapping[str, Any], fields: Iterable[str] | None = None
) -> list[str]:
    """The fields (by default all that either side has, sorted) whose recorded and current values differ."""
    keys = sorted(set(theirs) | set(ours)) if fields is None else list(fields)
    return [k for k in keys if jsonable(theirs.get(k)) != jsonable(ours.get(k))]


def describe_changes(
    theirs: Mapping[str, Any],
    ours: Mapping[str, Any],
    fields: Iterable[str] | None = None,
    limit: int | None = None,
) -> str:
    """ "k: x there vs y now" for each changed field (the first `limit` of them), joined by commas."""
    changed = changed_fields(theirs, ours, fields)[:limit]
    return ", ".join(f"{k}: {theirs.get(k)!r} there vs {ours.get(k)!r} now" for k in changed)


def refuse_changed(
    theirs: Mapping[str, Any],
    ours: Mapping[str, Any],
    *,
    held: str,
    advice: str,
    fields: Iterable[str] | None = None,
    limit: int | None = None,
    different: bool | None = None,
) -> None:
    """A JobConflictError "<held> (<changes>); <advice>" when the jobs differ; nothing when they match.
    They differ when any field does, or as `different` says where the caller decides by other means
    (generate compares job ids, and the fields only name the changes)."""
    fields = None if fields is None else list(fields)
    if different is None:
        different = bool(changed_fields(theirs, ours, fields))
    if different:
        raise JobConflictError(f"{held} ({describe_changes(theirs, ours, fields, limit)}); {advice}")


def read_identity(path: str | Path, advice: str) -> dict[str, Any] | None:
    """The JSON identity record at `path`, None when there is none; an unreadable one is refused (a job
    must not guess what a damaged record claimed)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JobConflictError(f"{path} is unreadable ({exc}); {advice}") from exc
    if not isinstance(record, dict):
        raise JobConflictError(f"{path} holds {type(record).__name__}, not a job record; {advice}")
    return record
