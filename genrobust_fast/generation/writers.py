"""Shard writers: image files or a tar per shard, plus the shard's metadata JSON lines, crash-safe.

    writer = open_shard_writer("imagefolder", out, shard=3, num_shards=8, ext="jpg")
    done = writer.finished_stems()        # resume: images already recorded in _meta/shard-...jsonl
    writer.commit(record, data)           # in work-list order
    writer.finish(stats)                  # fsync, then _meta/shard-...done.json, written last

Crash safety without per-file fsync: an image is written under a temp name in `_meta/tmp/` and renamed
into place; its JSON line is appended afterwards, so a recorded image always exists in full. On resume
a torn last JSON line is cut off, a tar is cut back to the end of its last recorded member, and the
temp folder is cleared, so a SIGKILL at any moment followed by a rerun gives the files of an
uninterrupted run, byte for byte (tar headers carry no times or owners).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..genset import (
    END_OF_ARCHIVE,
    Entry,
    Layout,
    RecordLog,
    image_with_sidecar,
    member_name,
    sort_records,
    write_done,
)


def encode_image(pixels, image_format: str, quality: int) -> bytes:
    """uint8 HWC RGB -> file bytes. JPEG is baseline (non-progressive, hardware decoders take it), 4:2:0."""
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.fromarray(pixels, "RGB")
    if image_format == "jpg":
        image.save(buffer, format="JPEG", quality=quality, progressive=False, optimize=False)
    elif image_format == "png":
        image.save(buffer, format="PNG")
    elif image_format == "webp":
        image.save(buffer, format="WEBP", quality=quality, method=4)
    else:
        raise DatasetError(f"unknown image format {image_format!r}; use jpg, png or webp")
    return buffer.getvalue()


class ShardWriter:
    """Base: the metadata JSONL of one shard; subclasses store the image bytes."""

    def __init__(self, out: Path, shard: int, num_shards: int, ext: str):
        self.out, self.shard, self.num_shards, self.ext = out, shard, num_shards, ext
        self.layout = Layout(out, num_shards)
        self.jsonl, self.done_path = self.layout.jsonl(shard), self.layout.done(shard)
        self.tmp_dir = self.layout.tmp(shard)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)  # temp files of a killed run
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._log = RecordLog(self.jsonl)
        self.records = self._log.records

    def finished_stems(self) -> set[str]:
        return {Entry.parse(r["file"]).stem for r in self.records}

    def member_name(self, stem: str) -> str:
        return member_name(stem, self.ext)

    def store(self, stem: str, class_id: str, data: bytes) -> str:
        """Write the image bytes; returns the record's "file". May run on a worker thread."""
        raise NotImplementedError

    def commit(self, record: dict[str, Any]) -> None:
        """Append the image's JSON line (in work-list order, after its bytes are stored)."""
        self._log.append(record)

    def finish(self, stats: dict[str, Any], order: Callable[[dict[str, Any]], int] | None = None) -> None:
        """Seal the shard; `order` (a record's plan position) puts the JSON lines back in work-list order
        when a repair appended remade images after later ones, so a repaired shard reads as an intact one."""
        self._log.seal()
        if order is not None:
            sort_records(self.jsonl, order)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.tmp_dir.parent.rmdir()  # _meta/tmp, once no shard uses it
        write_done(self.done_path, stats)  # last: its presence means the shard is complete

    def close(self) -> None:
        self._log.close()


class ImageFolderWriter(ShardWriter):
    """<out>/<class_id>/<class_id>_<index:07d>.<ext>."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._class_dirs: set[str] = set()  # class folders this writer has made sure exist

    def store(self, stem: str, class_id: str, data: bytes) -> str:
        entry = Entry(f"{class_id}/{self.member_name(stem)}")
        final = self.out / entry.path
        tmp = self.tmp_dir / entry.name
        with open(tmp, "wb") as f:
            f.write(data)
        if class_id not in self._class_dirs:  # once per class, not a syscall per image
            final.parent.mkdir(exist_ok=True)
            self._class_dirs.add(class_id)
        os.replace(tmp, final)
        return str(entry)


class WebDatasetWriter(ShardWriter):
    """<out>/shards/shard-k-of-N.tar with <stem>.<ext> and <stem>.json members; built as a `.partial`
    file cut back to its last recorded member on resume, renamed into place when the shard is done."""

    def __init__(self, out: Path, shard: int, num_shards: int, ext: str):
        super().__init__(out, shard, num_shards, ext)
        self.layout.shards_dir().mkdir(exist_ok=True)
        self.tar_rel = self.layout.tar_rel(shard)
        self.partial = self.layout.partial_tar(shard)
        final = self.layout.tar(shard)
        if final.exists() and not self.partial.exists():  # killed between the rename and done.json
            os.replace(final, self.partial)
        end = self.records[-1]["tar_end"] if self.records else 0
        if self.records and (not self.partial.exists() or self.partial.stat().st_size < end):
            raise DatasetError(
                f"{self.partial} is missing or shorter than its metadata says ({end} bytes); "
                f"delete {self.jsonl} to regenerate shard {shard}"
            )
        self._tar = open(self.partial, "ab" if self.partial.exists() else "wb")  # noqa: SIM115 (appended to for the whole shard)
        self._tar.truncate(end)
        self._tar.seek(end)
        self._pending: dict[str, bytes] = {}

    def store(self, stem: str, class_id: str, data: bytes) -> str:
        self._pending[stem] = data  # appended to the tar in order by commit()
        return str(Entry(self.tar_rel, self.member_name(stem)))

    def commit(self, record: dict[str, Any]) -> None:
        stem = Entry.parse(record["file"]).stem
        data = self._pending.pop(stem)
        self._tar.write(image_with_sidecar(stem, self.ext, data, record))
        self._tar.flush()
        record = dict(record, tar_end=self._tar.tell())
        super().commit(record)

    def finish(self, stats: dict[str, Any], order: Callable[[dict[str, Any]], int] | None = None) -> None:
        # A tar is repaired from its first damaged member on: its records stay in work-list order.
        self._tar.write(END_OF_ARCHIVE)
        self._tar.flush()
        os.fsync(self._tar.fileno())
        self._tar.close()
        os.replace(self.partial, self.layout.tar(self.shard))
        super().finish(stats)

    def close(self) -> None:
        if not self._tar.closed:
            self._tar.close()
        super().close()


def open_shard_writer(output_format: str, out: Path, shard: int, num_shards: int, ext: str) -> ShardWriter:
    cls = {"imagefolder": ImageFolderWriter, "webdataset": WebDatasetWriter}[output_format]
    return cls(out, shard, num_shards, ext)
