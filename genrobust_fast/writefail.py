"""A failed write as one clear error: which file, what the failure means, what to do next.

A full disk, a read-only mount, a folder the user may not write and a name longer than the file system
allows reach us as an OSError deep inside a write, or from the C++ and Rust writers (torch.save,
DeepSpeed, safetensors) as a RuntimeError or their own error type with no errno at all. `write_failure`
recognises both; `writing(path)` wraps a block that writes `path`; the CLI's top level translates any
OSError that escaped, so no command shows a traceback for a disk problem.

    with writing(out / "checkpoints"):
        engine.save_checkpoint(...)      # disk full -> OutputWriteError naming the folder and the fix

Every writer renames complete files into place (`fileio.atomic_path`), so the work finished before the
failure is kept and a rerun of the same command resumes from it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path

from .errors import GenrobustError, OutputWriteError

NAME_MAX = 255  # bytes per file or folder name on ext4, xfs, btrfs, tmpfs, NFS

_MEANINGS = {
    errno.ENOSPC: (
        "no space left on the device",
        "free space there or choose an output folder on another disk",
    ),
    errno.EDQUOT: ("the disk quota is exceeded", "free space within your quota or choose another disk"),
    errno.EFBIG: (
        "the file is larger than the file system or the shell's file size limit (ulimit -f) allows",
        "raise the limit or choose an output folder on another disk",
    ),
    errno.EROFS: ("the file system is read-only", "choose an output folder on a writable file system"),
    errno.EACCES: ("permission denied", "choose an output folder you may write, or fix its permissions"),
    errno.EPERM: ("operation not permitted", "choose an output folder you may write, or fix its permissions"),
    errno.ENAMETOOLONG: (
        f"a name in the path is longer than the file system allows ({NAME_MAX} bytes per name)",
        "shorten it (a class id becomes a folder and file name; see the class file)",
    ),
}
KEPT = "work finished before this is kept; fix it and rerun the same command to go on from there"


def write_failure(exc: BaseException, path: str | os.PathLike | None = None) -> OutputWriteError | None:
    """The clear error for `exc` raised while writing `path` (a file or the folder written into), or None
    when `exc` is not a write failure we can name (a bug then stays a traceback)."""
    if isinstance(exc, GenrobustError):
        return None
    if isinstance(exc, OSError) and exc.errno is not None:
        code = exc.errno  # the kernel's own word: ENOENT and the like are no disk problem
    else:
        code = _os_error_in_text(exc) or (_diagnose(path) if path is not None else None)
    if code == errno.EEXIST:
        return _dangling_link(getattr(exc, "filename", None) or path)
    if code not in _MEANINGS:
        return None
    target = path if path is not None else getattr(exc, "filename", None)
    meaning, fix = _MEANINGS[code]
    if code == errno.ENAMETOOLONG:
        long_name = _longest_name(getattr(exc, "filename", None) or target)
        if long_name:
            meaning += f": {long_name[:40]!r}... is {len(long_name.encode())} bytes"
    if path is not None:
        where = f"cannot write {str(path)!r}"
    else:  # raised somewhere below the CLI: the file it names may be read or written
        where = repr(os.fsdecode(target)) if target is not None else "an output file"
    failure = OutputWriteError(f"{where}: {meaning} ({errno.errorcode[code]}); {fix}; {KEPT}")
    failure.errno = code
    return failure


def _dangling_link(path) -> OutputWriteError | None:
    """mkdir of a symbolic link whose target is missing says "File exists", which names nothing wrong."""
    if path is None or not os.path.islink(path) or os.path.exists(path):
        return None  # a real "exists" is a bug of ours: it stays a traceback
    failure = OutputWriteError(
        f"cannot create {os.fsdecode(path)!r}: it is a symbolic link to {os.readlink(path)!r}, which does "
        "not exist; create the folder it points to, or remove the link"
    )
    failure.errno = errno.EEXIST
    return failure


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn a write failure inside the block into an OutputWriteError naming `path`."""
    try:
        yield
    except Exception as exc:
        failure = write_failure(exc, path)
        if failure is None:
            raise
        raise failure from exc


def _os_error_in_text(exc: BaseException) -> int | None:
    # Rust writers (safetensors) report "I/O error: No space left on device (os error 28)".
    found = re.search(r"\(os error (\d+)\)", str(exc))
    return int(found.group(1)) if found else None


def _diagnose(path: str | os.PathLike) -> int | None:
    """What the file system of `path` says when a writer gave no errno (torch's C++ writer raises
    "unexpected pos" or "file write failed"): read-only, or out of blocks or inodes."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return errno.EROFS
    free_blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail  # root may use the reserved blocks
    if free_blocks * st.f_frsize < 1 << 20 or (st.f_files and st.f_favail == 0):
        return errno.ENOSPC
    return None


def _longest_name(path) -> str | None:
    if path is None:
        return None
    parts = Path(os.fsdecode(path)).parts
    longest = max(parts, key=lambda part: len(part.encode()), default="")
    return longest if len(longest.encode()) > NAME_MAX else None
