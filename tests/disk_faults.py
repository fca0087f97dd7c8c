"""A disk that is full or read-only: hardware these machines lack, faked at the lowest Python-level calls
that create or open files for writing (os.open, io.open, os.mkdir). The code under test runs unchanged:
its real write path meets the OSError the kernel would raise (ENOSPC, EROFS, ...) at the same call.

    disk = failing_disk(monkeypatch, tmp_path / "out", errno.ENOSPC)                 # every write fails
    disk = failing_disk(monkeypatch, out, errno.ENOSPC, after=3, counting=is_image)   # the 4th image fills it

Writers that bypass Python (torch's C++ zip writer, safetensors' Rust one) still write; the commands
open a lock file or a temp file through Python first, where the fault is met, as on a real disk.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable
from pathlib import Path

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class FailingDisk:
    def __init__(self, folder: Path, code: int, after: int, counting: Callable[[str], bool]):
        self.folder, self.code, self.after, self.counting = os.path.abspath(folder), code, after, counting
        self.writes = 0  # writes that matched `counting` and went through
        self.refused: list[str] = []

    def inside(self, path) -> bool:
        if isinstance(path, int):
            return False
        text = os.path.abspath(os.fsdecode(path))
        return text == self.folder or text.startswith(self.folder + os.sep)

    def check(self, path) -> None:
        """Raise the disk's errno for a write under its folder once it is full."""
        if not self.inside(path):
            return
        if self.writes >= self.after:
            self.refused.append(os.fsdecode(path))
            raise OSError(self.code, os.strerror(self.code), os.fsdecode(path))
        if self.counting(os.fsdecode(path)):
            self.writes += 1


def failing_disk(
    monkeypatch, folder: Path, code: int, after: int = 0, counting: Callable[[str], bool] = lambda p: True
) -> FailingDisk:
    disk = FailingDisk(Path(folder), code, after, counting)
    real_os_open, real_io_open, real_mkdir = os.open, io.open, os.mkdir

    def os_open(path, flags, *args, **kwargs):
        if flags & _WRITE_FLAGS:
            disk.check(path)
        return real_os_open(path, flags, *args, **kwargs)

    def io_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            disk.check(file)
        return real_io_open(file, mode, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if not os.path.isdir(path):
            disk.check(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(builtins, "open", io_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    return disk
