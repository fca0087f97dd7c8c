"""A generated set opened for reading: its manifest, records, entries and bytes.

    with GeneratedSet.open("gen/") as gset:
        gset.manifest.label_space, gset.num_shards, gset.done_shards()
        for entry, class_id in gset.recorded_entries():
            data = gset.read_bytes(entry)        # a file, or a member of its tar shard
        gset.check_present(present={"n01440764/n01440764_0000000.png", ...})   # recorded vs present

Every path taken from a record goes through `paths.contained`: records are read back from disk, and a
damaged or edited one must not make a reader (or dedup, which deletes) act outside the set.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..paths import contained
from .entries import Entry
from .lists import read_dedup_list
from .manifest import Manifest, read_manifest
from .names import REGENERATE_HINT, Layout, meta_dir, partial_of
from .presence import missing_from_folders, missing_from_tars, refuse_missing
from .records import read_records, recorded_images
from .tars import TarReader


class GeneratedSet:
    def __init__(self, root: str | Path, manifest: Manifest):
        self.root = Path(root)
        self.manifest = manifest
        self.layout = Layout(self.root, manifest.num_shards)
        self._tars = TarReader()
        self._dropped: frozenset[str] | None = None

    @classmethod
    def open(cls, root: str | Path) -> GeneratedSet:
        """The set at `root`; DatasetError when its manifest is missing, unreadable or foreign."""
        return cls(root, read_manifest(root))

    @property
    def num_shards(self) -> int:
        return self.manifest.num_shards

    @property
    def output_format(self) -> str:
        return self.manifest.output_format

    def done_shards(self) -> list[int]:
        return [k for k in range(self.num_shards) if self.layout.is_done(k)]

    def records(self, shard: int | None = None) -> Iterator[dict[str, Any]]:
        """The complete records of one shard, or of every shard in shard order."""
        for k in range(self.num_shards) if shard is None else (shard,):
            yield from read_records(self.layout.jsonl(k))

    def recorded_images(self) -> int:
        return sum(recorded_images(self.layout.jsonl(k), self.layout.done(k)) for k in range(self.num_shards))

    def recorded_entries(self) -> Iterator[tuple[Entry, str]]:
        """(entry, class id) of every recorded image, dropped near-duplicates included."""
        for record in self.records():
            yield Entry.parse(record["file"]), record["class_id"]

    def dropped(self) -> frozenset[str]:
        """The entries `--dedup` dropped (`_meta/dedup.json`), read once."""
        if self._dropped is None:
            self._dropped = read_dedup_list(self.root)
        return self._dropped

    def path_of(self, entry: Entry) -> Path:
        """The file (or tar) `entry` names, kept inside the set."""
        return contained(self.root, entry.path, source=meta_dir(self.root), fix=REGENERATE_HINT)

    def read_bytes(self, entry: Entry) -> bytes:
        """The recorded image's bytes; a missing or damaged file or shard is a DatasetError that names it."""
        path = self.path_of(entry)
        if entry.member is None:
            try:
                return path.read_bytes()
            except OSError as exc:
                raise DatasetError(
                    f"{self.root / entry.path}, recorded in {meta_dir(self.root)}, cannot be read "
                    f"({exc.strerror}); {REGENERATE_HINT}"
                ) from None
        if not path.exists() and partial_of(path).exists():
            path = partial_of(path)  # an unfinished shard is still being written under its partial name
        try:
            return self._tars.read(path, entry.member)
        except FileNotFoundError:
            raise DatasetError(
                f"shard {path} is missing but {meta_dir(self.root)} records images in it; {REGENERATE_HINT}"
            ) from None
        except KeyError:
            raise DatasetError(
                f"shard {path} lacks its recorded member {entry.member}; {REGENERATE_HINT}"
            ) from None
        except (tarfile.TarError, OSError) as exc:
            raise DatasetError(f"shard {path} cannot be read ({exc}); {REGENERATE_HINT}") from None

    def check_present(
        self,
        present: set[str] | None = None,
        tar_members: dict[str, set[str]] | None = None,
        dropped: frozenset[str] = frozenset(),
    ) -> None:
        """DatasetError naming the shards or images the records hold but a reader did not find.

        ImageFolder sets: `present` holds the `<class>/<file>` entries found. Webdataset sets: `tar_members`
        maps each tar found under shards/ to its member names (unfinished shards are skipped: their tar is
        still being written). `dropped`: the entries `--dedup` removed on purpose.
        """
        if self.output_format == "webdataset":
            missing = missing_from_tars(self.layout, tar_members or {})
        else:
            missing = missing_from_folders(self.layout, present or set(), dropped)
        refuse_missing(self.root, [f for f in missing if f not in dropped])

    def close(self) -> None:
        self._tars.close()

    def __enter__(self) -> GeneratedSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
