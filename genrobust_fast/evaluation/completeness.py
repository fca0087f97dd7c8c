"""`verify_benchmark`: is a benchmark folder complete and laid out as its registry entry says?

    report = verify_benchmark("imagenet-r", "/data/imagenet-r")
    report["file_list_sha256"]    # recorded with every result computed from this folder

A partial download (short count, missing class folders, unfinished generation shards) is a
DatasetError unless `force=True`, in which case the report lists the problems and `complete` is False.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DatasetError
from .layouts import BenchmarkData, read_benchmark
from .registry import BenchmarkSpec, get_benchmark


def summarize(data: BenchmarkData) -> dict[str, Any]:
    return {
        "benchmark": data.name,
        "root": str(data.root),
        "images": len(data.files),
        "scored_images": len(data),
        "expected_images": data.expected_images,
        "classes": len(data.classes),
        "classes_present": len(set(data.targets)),
        "file_list_sha256": data.file_list_sha256(),
        "complete": not data.problems,
        "problems": list(data.problems),
    }


def check_complete(data: BenchmarkData, force: bool) -> None:
    if data.problems and not force:
        raise DatasetError(
            f"benchmark {data.name!r} at {str(data.root)!r} looks partial: {'; '.join(data.problems[:4])}. "
            "Finish the download (or generation job), or pass --force to evaluate what is there"
        )


def verify_benchmark(
    name: str | BenchmarkSpec, root: str | Path, force: bool = False, class_map: dict[str, str] | None = None
) -> dict[str, Any]:
    """Counts, class folders and the file-list hash of a benchmark folder, as a JSON-ready dict."""
    spec = get_benchmark(name) if isinstance(name, str) else name
    data = read_benchmark(spec, root, class_map)
    check_complete(data, force)
    return summarize(data)
