"""Every benchmark's one ending: the machine it ran on (environment.machine_info) recorded with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..environment import machine_info


def record_result(result: dict[str, Any], out_path: str | Path | None = None) -> dict[str, Any]:
    """Every benchmark's one ending: the machine it ran on added (a benchmark that set its threads first
    records its own), and the JSON written atomically to `out_path` when given."""
    from ..fileio import atomic_write_json

    result.setdefault("machine", machine_info())
    if out_path:
        atomic_write_json(out_path, result)
    return result
