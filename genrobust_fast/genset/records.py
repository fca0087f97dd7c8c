"""A shard's metadata: one JSON record per image (`_meta/shard-...jsonl`) and its done marker.

    log = RecordLog(layout.jsonl(3))      # resume: a torn last line is cut off, log.records holds the rest
    log.append(record)                    # after the image's bytes are in place
    log.close(); write_done(layout.done(3), stats)   # the marker last: the shard is complete
    read_records(path), count_records(path), recorded_images(jsonl, done)

A record's line is complete once its newline is written; a reader never trusts a line without one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_bytes, atomic_write_json
from .names import record_files

log = logging.getLogger(__name__)


def encode_record(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, sort_keys=True) + "\n").encode()


def read_records(jsonl: Path, repair: bool = False) -> list[dict[str, Any]]:
    """The complete JSON lines of a shard's metadata; with `repair`, cut a torn last line off the file."""
    if not jsonl.exists():
        return []
    data = jsonl.read_bytes()
    records, good_end, start = [], 0, 0
    while True:
        nl = data.find(b"\n", start)
        if nl < 0:
            break
        try:
            records.append(json.loads(data[start:nl]))
        except json.JSONDecodeError:
            break
        good_end = start = nl + 1
    if repair and good_end != len(data):
        log.info("%s: cutting %d bytes of an interrupted write", jsonl.name, len(data) - good_end)
        with open(jsonl, "r+b") as f:
            f.truncate(good_end)
    return records


def first_record(root: Path) -> dict[str, Any]:
    """The first record of the first shard's metadata present ({} when there is none): enough to name
    the weights a set was made with."""
    files = record_files(root)
    if not files:
        return {}
    with open(files[0], encoding="utf-8") as f:
        line = f.readline()
    try:
        first = json.loads(line) if line.strip() else {}
    except ValueError:
        return {}
    return first if isinstance(first, dict) else {}


def count_records(jsonl: Path) -> int:
    """How many records a shard's metadata holds (its complete lines), without parsing them: 0 if absent."""
    try:
        return jsonl.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def recorded_images(jsonl: Path, done: Path) -> int:
    """A shard's image count: the done marker's `images` when it is finished, else its records' count.
    The marker is one small file; a metadata file of a 10,000-image shard is megabytes."""
    count = read_done(done).get("images")
    if isinstance(count, int):
        return count
    try:
        return count_records(jsonl)
    except OSError:
        return 0


def keep_records(jsonl: Path, keep: Callable[[int], bool]) -> None:
    """Rewrite the metadata with only the lines whose index `keep` accepts (a repair forgets the rest)."""
    lines = jsonl.read_bytes().splitlines(keepends=True)
    atomic_write_bytes(jsonl, b"".join(line for i, line in enumerate(lines) if keep(i)))


def sort_records(jsonl: Path, position: Callable[[dict[str, Any]], int]) -> None:
    """Put the lines in `position` order (a repair appends remade images after later ones); rewritten only
    when the order changes."""
    lines = jsonl.read_bytes().splitlines(keepends=True)
    ordered = sorted(lines, key=lambda line: position(json.loads(line)))
    if ordered != lines:
        atomic_write_bytes(jsonl, b"".join(ordered))


class RecordLog:
    """The metadata of one shard being written: appended to, one flushed line per image."""

    def __init__(self, jsonl: Path):
        self.path = jsonl
        jsonl.parent.mkdir(parents=True, exist_ok=True)
        self.records = read_records(jsonl, repair=True)
        self._file = open(jsonl, "ab")  # noqa: SIM115 (appended to for the whole shard)

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(encode_record(record))
        self._file.flush()  # SIGKILL-safe once in the kernel; fsync happens once, in seal()

    def seal(self) -> None:
        """fsync and close: the shard's records are on disk before its done marker is written."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def write_done(done: Path, stats: dict[str, Any]) -> None:
    atomic_write_json(done, stats)


def read_done(done: Path) -> dict[str, Any]:
    """A done marker's stats ({} when absent or unreadable: the caller falls back to the records)."""
    try:
        stats = json.loads(done.read_text())
    except (OSError, ValueError):
        return {}
    return stats if isinstance(stats, dict) else {}
