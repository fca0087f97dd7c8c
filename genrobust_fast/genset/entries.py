"""Where one recorded image lives, and how images are named.

An entry is a file (`n01440764/n01440764_0000003.jpg`) or a member of a tar shard
(`shards/shard-00000-of-00004.tar#n01440764_0000003.jpg`); records, the dedup list and `data check`'s
bad list spell it so, and evaluation spells it with the tar's absolute path.

    entry = Entry.parse("shards/shard-00000-of-00004.tar#n01440764_0000003.jpg")
    entry.path, entry.member, entry.name, entry.class_id, str(entry)

`#` separates tar and member only: a byte offset inside a file is written `<file>@<offset>`
(`byte_range_label`). Class ids never hold `#` or `/` (`valid_class_id`) and shard names are fixed, so the
last `#` after a `.tar` is the separator even when an absolute path holds a `#` of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import DatasetError
from .names import TAR_SUFFIX

MEMBER_SEP = "#"


def image_stem(class_id: str, index: int) -> str:
    """`<class_id>_<index:07d>`: an image's name without its suffix, in a class folder or a tar."""
    return f"{class_id}_{index:07d}"


def member_name(stem: str, ext: str) -> str:
    return f"{stem}.{ext}"


def valid_class_id(class_id: str) -> bool:
    """Whether `class_id` can name a class folder and an image: no slash or `#` (the entry separator), no
    leading `.` or `_` (readers skip such folders as hidden or ours)."""
    return bool(class_id) and not any(c in class_id for c in "/\\#") and not class_id.startswith((".", "_"))


def class_id_of_name(name: str) -> str:
    """`<class_id>_<index:07d>.<ext>` -> class_id (ids may themselves hold underscores)."""
    stem = os.path.basename(name).rsplit(".", 1)[0]
    cid, sep, index = stem.rpartition("_")
    if not sep or not index.isdigit():
        raise DatasetError(f"shard member {name!r} is not named <class_id>_<index>.<ext>")
    return cid


def byte_range_label(path: str, offset: int) -> str:
    """How messages name the bytes at `offset` inside `path` (a tar member read by offset)."""
    return f"{path}@{offset}"


@dataclass(frozen=True, order=True, slots=True)
class Entry:
    """One image: the file `path`, or member `member` of the tar `path`."""

    path: str
    member: str | None = None

    @classmethod
    def parse(cls, text: str) -> Entry:
        head, sep, tail = text.rpartition(MEMBER_SEP)
        if sep and head.endswith(TAR_SUFFIX) and tail and "/" not in tail:
            return cls(head, tail)
        return cls(text)

    def __str__(self) -> str:
        return self.path if self.member is None else f"{self.path}{MEMBER_SEP}{self.member}"

    @property
    def name(self) -> str:
        """The image's own file name: the member, or the file's base name."""
        return self.member if self.member is not None else os.path.basename(self.path)

    @property
    def stem(self) -> str:
        return os.path.splitext(self.name)[0]

    @property
    def class_id(self) -> str:
        return class_id_of_name(self.name)

    def under(self, root: str | os.PathLike) -> Entry:
        """The same entry with its file or tar named below `root` (evaluation reads absolute entries)."""
        return Entry(os.path.join(root, self.path), self.member)
