"""One job at a time per output folder.

    with lock_output(out, "train-rank0"):
        ...  # a second job gets a JobConflictError naming this process's PID

The lock is `fcntl.flock` on `<folder>/.genrobust-<name>.lock`. The kernel drops it when the process
exits, however it exits (SIGKILL, OOM, a lost node), so a killed job never leaves a stale lock; the file
stays behind, empty of meaning. The holder writes its PID into it so the second job can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import DatasetError, JobConflictError
from .writefail import write_failure, writing


def lock_path(folder: str | os.PathLike, name: str) -> Path:
    return Path(folder) / f".genrobust-{name}.lock"


def is_lock_file(path: str | os.PathLike) -> bool:
    """Whether `path` is one of these lock files (not an output: listings and comparisons skip it)."""
    name = Path(path).name
    return name.startswith(".genrobust-") and name.endswith(".lock")


@contextlib.contextmanager
def lock_output(folder: str | os.PathLike, name: str, *, wait: bool = False) -> Iterator[Path]:
    """Hold the exclusive lock `name` on `folder` (created if missing) for the block.

    Without `wait`, a lock another process holds is a JobConflictError naming its PID; with `wait`
    (short critical sections such as appending a results line), the call blocks until it is free.
    """
    path = lock_path(folder, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise write_failure(exc, path) or DatasetError(
            f"cannot create the lock file {path} ({exc.strerror}); choose a writable output folder"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise JobConflictError(
                f"{folder} is in use by another job (PID {holder}, lock {path}); wait for it to finish or "
                "stop it, or choose another output folder"
            ) from None
        with writing(path):  # a full disk fails here first
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
