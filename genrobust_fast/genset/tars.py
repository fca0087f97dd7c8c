"""Tar shards: how a member is written, and how members are listed and read back.

Members are USTAR headers without times or owners, so a shard's bytes depend only on its images: a killed
and resumed job writes the same tar as an uninterrupted one. Readers take any tar (sets made by other
tools use GNU or PAX headers).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any, BinaryIO

from ..constants import is_image_name
from ..errors import DatasetError
from .entries import member_name
from .names import REGENERATE_HINT

BLOCK = tarfile.BLOCKSIZE
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = (
        size,
        0,
        0o644,
        0,
        0,
        "",
        "",
    )
    return info.tobuf(format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")


def member_bytes(name: str, data: bytes) -> bytes:
    """Header, data and padding of one member, ready to append."""
    pad = (-len(data)) % BLOCK
    return _header(name, len(data)) + data + b"\0" * pad


def image_with_sidecar(stem: str, ext: str, data: bytes, record: dict[str, Any]) -> bytes:
    """The members `<stem>.<ext>` (the image) and `<stem>.json` (its record), as WebDataset groups them."""
    sidecar = json.dumps(record, sort_keys=True).encode()
    return member_bytes(member_name(stem, ext), data) + member_bytes(member_name(stem, "json"), sidecar)


def header_at(f: BinaryIO, offset: int) -> tarfile.TarInfo:
    """The member header at byte `offset` of an open tar (tarfile.TarError when there is none)."""
    f.seek(offset)
    return tarfile.TarInfo.frombuf(f.read(BLOCK), "utf-8", "strict")


def image_members(path: Path) -> list[tuple[str, int, int]]:
    """(member name, data offset, size) of every image member of one shard, in tar order."""
    try:
        with tarfile.open(path, "r:") as tar:
            return [(m.name, m.offset_data, m.size) for m in tar if m.isfile() and is_image_name(m.name)]
    except (tarfile.TarError, OSError) as exc:
        raise DatasetError(f"shard {path} cannot be read ({exc}); {REGENERATE_HINT}") from exc


class TarReader:
    """Members of tar shards by name, each tar opened once and kept open until `close()`."""

    def __init__(self) -> None:
        self._open: dict[Path, tarfile.TarFile] = {}

    def read(self, tar: Path, member: str) -> bytes:
        """The member's bytes; KeyError when the tar lacks it, OSError / TarError when unreadable."""
        if tar not in self._open:
            self._open[tar] = tarfile.open(tar)  # noqa: SIM115 (kept open across members, closed in close())
        f = self._open[tar].extractfile(member)
        if f is None:
            raise KeyError(member)
        return f.read()

    def close(self) -> None:
        for tar in self._open.values():
            tar.close()
        self._open.clear()

    def __enter__(self) -> TarReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
