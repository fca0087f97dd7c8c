"""List the images of an ImageFolder tree fast, with a scan cache validated by directory mtimes.

A full listing of a 1.28M-image tree costs tens of seconds on network file systems; training and
evaluation start often. The listing is cached in `$GENROBUST_CACHE_DIR/<hash of root>/scan.json` (default
`$XDG_CACHE_HOME/genrobust/index/`; never inside the tree). The cache is valid while
the root and every class folder keep their mtime, ctime and inode: adding, removing or renaming a file
changes its folder's mtime, so no per-file `stat` is needed; the ctime catches a folder whose mtime was
set back (an extraction that restores mtimes) -- it cannot be set by hand, any change moves it to now --
and the inode a folder replaced by another.

Entries the cache cannot hold or the scan cannot follow are skipped with a warning naming them: file
names with a line break (the cache stores one newline-joined string per class), symlink loops and other
entries whose `stat` fails.

    files = scan_image_folder("/data/imagenet/train")          # FileList of (relpath, class_id)
    len(files); files[0] -> ("n01440764/n01440764_10026.JPEG", "n01440764")

`genrobust data check` writes the files it found unreadable next to the cache (`check.json`);
`scan_image_folder` leaves them out and reports how many in `FileList.skipped_bad`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import is_image_name
from ..errors import DatasetError, InputError
from ..fileio import atomic_write_text
from ..genset import read_bad_list
from ..labels import LabelSpace

logger = logging.getLogger(__name__)

SCAN_FORMAT = "genrobust-scan/2"
# File systems stamp mtimes at a coarse tick; a folder changed within this window of the scan may have
# gained a file the scan missed with an unchanged mtime, so such a cache entry is not trusted.
MTIME_SAFETY_S = 2.0


@dataclass
class FileList(Sequence):
    """Images of one tree: compact storage (one name string per file), (relpath, class_id) on access."""

    root: Path
    class_ids: tuple[str, ...]
    # Per class (same order as class_ids): sorted file names inside that class folder.
    names: tuple[tuple[str, ...], ...]
    skipped_bad: int = 0
    from_cache: bool = False
    _offsets: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        total, self._offsets = 0, []
        for group in self.names:
            self._offsets.append(total)
            total += len(group)
        self._len = total

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        import bisect

        c = bisect.bisect_right(self._offsets, i) - 1
        cid = self.class_ids[c]
        return f"{cid}/{self.names[c][i - self._offsets[c]]}", cid

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for cid, group in zip(self.class_ids, self.names):
            for name in group:
                yield f"{cid}/{name}", cid

    def counts(self) -> dict[str, int]:
        return {cid: len(group) for cid, group in zip(self.class_ids, self.names)}


def index_dir(root: str | Path) -> Path:
    """Where the scan cache and check results of `root` live: a cache folder keyed by the root's path.

    Never inside the data tree: a hidden folder there would be taken for a class by torchvision's
    ImageFolder. `GENROBUST_CACHE_DIR` (a shared file system for multi-node runs) overrides the default
    `$XDG_CACHE_HOME/genrobust/index`.
    """
    root = Path(root).resolve()
    base = os.environ.get("GENROBUST_CACHE_DIR")
    if base:
        base_path = Path(base)
    else:
        base_path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genrobust" / "index"
    return base_path / hashlib.sha256(str(root).encode()).hexdigest()[:20]


def usable(entry: os.DirEntry, kind: str) -> bool:
    """Whether `entry` is a "dir" or "file" the scan can list and cache; a symlink loop, an entry that
    cannot be stat'ed or a name with a line break is skipped with a warning naming it."""
    if "\n" in entry.name or "\r" in entry.name:
        logger.warning(
            "skipping %r: its name holds a line break, which the scan cache cannot store; rename it",
            entry.path,
        )
        return False
    try:
        return entry.is_dir() if kind == "dir" else entry.is_file()
    except OSError as exc:  # ELOOP (a symlink loop), EACCES, ...: is_dir/is_file follow links
        logger.warning("skipping %r: %s; fix or remove the link", entry.path, exc.strerror or exc)
        return False


def _class_dirs(root: Path) -> list[os.DirEntry]:
    with os.scandir(root) as it:
        return sorted(
            (e for e in it if not e.name.startswith((".", "_")) and usable(e, "dir")), key=lambda e: e.name
        )


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _tree_state(root: Path, dirs: list[os.DirEntry]) -> dict[str, list[int]]:
    state = {".": _stamp(root.stat())}
    for entry in dirs:
        state[entry.name] = _stamp(entry.stat())
    return state


def _list_class(path: str) -> list[str]:
    with os.scandir(path) as it:
        # DirEntry.is_file() uses the directory's d_type: no stat per file on local file systems.
        return sorted(e.name for e in it if is_image_name(e.name) and usable(e, "file"))


def _read_cache(path: Path, state: dict[str, list[int]]) -> dict[str, list[str]] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("format") != SCAN_FORMAT or data.get("state") != state:
        return None
    limit_ns = int((data.get("scanned_at", 0) - MTIME_SAFETY_S) * 1e9)
    if any(mtime >= limit_ns for mtime, _, _ in state.values()):
        return None
    classes = data.get("classes")
    # The cache is read back from disk: a name holding "/" (or NUL) would lead out of its class folder, so
    # such a cache is not trusted and the tree is listed again. One search per class string keeps it fast.
    if not isinstance(classes, dict) or any(
        not isinstance(joined, str) or "/" in joined or "\0" in joined for joined in classes.values()
    ):
        return None
    # One newline-joined string per class parses far faster than a million JSON strings.
    return {cid: (joined.split("\n") if joined else []) for cid, joined in classes.items()}


def _write_cache(
    path: Path, root: Path, state: dict[str, list[int]], classes: dict[str, list[str]], scanned_at: float
) -> None:
    payload = {
        "format": SCAN_FORMAT,
        "root": str(root.resolve()),
        "scanned_at": scanned_at,
        "state": state,
        "classes": {cid: "\n".join(names) for cid, names in classes.items()},
    }
    try:
        atomic_write_text(path, json.dumps(payload))
    except OSError as exc:  # a read-only cache location only costs speed
        logger.warning("could not write scan cache %s (%s); the next start lists the tree again", path, exc)


def read_bad_files(root: str | Path) -> set[str]:
    """Relative paths `genrobust data check` marked unreadable or truncated (empty if never checked)."""
    return read_bad_list(index_dir(root))


def scan_image_folder(
    root: str | Path,
    label_space: LabelSpace | None = None,
    use_cache: bool = True,
    skip_bad: bool = True,
    refresh: bool = False,
) -> FileList:
    """Images of `<root>/<class_id>/*`, class folders in `label_space` order (sorted ids if None).

    Folders starting with "." or "_" are ignored. With a label space, a class folder whose id is not in
    it is an error (labels must never shift silently); classes of the space without a folder are empty.

    Example:
        files = scan_image_folder("real/", named_label_space("imagenet100"))
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{str(root)!r} is not a folder; give an ImageFolder root with one folder per class")
    dirs = _class_dirs(root)
    if not dirs:
        raise DatasetError(f"{str(root)!r} holds no class folders; expected <root>/<class_id>/<image files>")
    found = [e.name for e in dirs]
    if label_space is not None:
        unknown = [cid for cid in found if cid not in label_space]
        if unknown:
            raise DatasetError(
                f"{str(root)!r} has class folders not in the label space of {len(label_space)} classes: "
                f"{unknown[:5]}{' ...' if len(unknown) > 5 else ''}; pass a label space that lists them "
                "(--classes) or remove those folders"
            )
    state = _tree_state(root, dirs)
    cache_path = index_dir(root) / "scan.json"
    classes = _read_cache(cache_path, state) if use_cache and not refresh else None
    from_cache = classes is not None
    if classes is None:
        scanned_at = time.time()
        classes = {e.name: _list_class(e.path) for e in dirs}
        if use_cache or refresh:
            _write_cache(cache_path, root, state, classes, scanned_at)
    order = label_space.ids if label_space is not None else tuple(found)
    bad = read_bad_files(root) if skip_bad else set()
    names, skipped = [], 0
    for cid in order:
        group = classes.get(cid, [])
        if bad:
            kept = [n for n in group if f"{cid}/{n}" not in bad]
            skipped += len(group) - len(kept)
            group = kept
        names.append(tuple(group))
    if skipped:
        logger.warning("%s: skipping %d file(s) that `genrobust data check` marked unreadable", root, skipped)
    logger.info(
        "%s: %d images in %d classes (%s)",
        root,
        sum(map(len, names)),
        len(order),
        "scan cache" if from_cache else "listed",
    )
    return FileList(
        root=root, class_ids=tuple(order), names=tuple(names), skipped_bad=skipped, from_cache=from_cache
    )
