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
import json
import logging
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..fileio import atomic_write_bytes, atomic_write_json

log = logging.getLogger(__name__)


def shard_name(k: int, n: int) -> str:
    return f"shard-{k:05d}-of-{n:05d}"


def meta_paths(out: Path, k: int, n: int) -> tuple[Path, Path]:
    """(_meta/shard-...jsonl, _meta/shard-...done.json)."""
    meta = out / "_meta"
    return meta / f"{shard_name(k, n)}.jsonl", meta / f"{shard_name(k, n)}.done.json"


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


class ShardWriter:
    """Base: the metadata JSONL of one shard; subclasses store the image bytes."""

    def __init__(self, out: Path, shard: int, num_shards: int, ext: str):
        self.out, self.shard, self.num_shards, self.ext = out, shard, num_shards, ext
        self.jsonl, self.done_path = meta_paths(out, shard, num_shards)
        self.tmp_dir = out / "_meta" / "tmp" / shard_name(shard, num_shards)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)  # temp files of a killed run
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.records = read_records(self.jsonl, repair=True)
        self._jsonl_file = open(self.jsonl, "ab")  # noqa: SIM115 (appended to for the whole shard)

    def finished_stems(self) -> set[str]:
        return {Path(r["file"].split("#")[-1]).stem for r in self.records}

    def member_name(self, stem: str) -> str:
        return f"{stem}.{self.ext}"

    def store(self, stem: str, class_id: str, data: bytes) -> str:
        """Write the image bytes; returns the record's "file". May run on a worker thread."""
        raise NotImplementedError

    def commit(self, record: dict[str, Any]) -> None:
        """Append the image's JSON line (in work-list order, after its bytes are stored)."""
        self._jsonl_file.write((json.dumps(record, sort_keys=True) + "\n").encode())
        self._jsonl_file.flush()  # SIGKILL-safe once in the kernel; fsync happens once, in finish()

    def finish(self, stats: dict[str, Any], order: Callable[[dict[str, Any]], int] | None = None) -> None:
        """Seal the shard; `order` (a record's plan position) puts the JSON lines back in work-list order
        when a repair appended remade images after later ones, so a repaired shard reads as an intact one."""
        self._jsonl_file.flush()
        os.fsync(self._jsonl_file.fileno())
        self._jsonl_file.close()
        if order is not None:
            lines = self.jsonl.read_bytes().splitlines(keepends=True)
            ordered = sorted(lines, key=lambda line: order(json.loads(line)))
            if ordered != lines:
                atomic_write_bytes(self.jsonl, b"".join(ordered))
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.tmp_dir.parent.rmdir()  # _meta/tmp, once no shard uses it
        atomic_write_json(self.done_path, stats)  # last: its presence means the shard is complete

    def close(self) -> None:
        if not self._jsonl_file.closed:
            self._jsonl_file.close()


class ImageFolderWriter(ShardWriter):
    """<out>/<class_id>/<class_id>_<index:07d>.<ext>."""

    def store(self, stem: str, class_id: str, data: bytes) -> str:
        rel = f"{class_id}/{self.member_name(stem)}"
        final = self.out / rel
        tmp = self.tmp_dir / self.member_name(stem)
        with open(tmp, "wb") as f:
            f.write(data)
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)
        return rel


def _tar_header(name: str, size: int) -> bytes:
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


def _tar_member(name: str, data: bytes) -> bytes:
    pad = (-len(data)) % tarfile.BLOCKSIZE
    return _tar_header(name, len(data)) + data + b"\0" * pad


class WebDatasetWriter(ShardWriter):
    """<out>/shards/shard-k-of-N.tar with <stem>.<ext> and <stem>.json members; built as a `.partial`
    file cut back to its last recorded member on resume, renamed into place when the shard is done."""

    def __init__(self, out: Path, shard: int, num_shards: int, ext: str):
        super().__init__(out, shard, num_shards, ext)
        (out / "shards").mkdir(exist_ok=True)
        self.tar_rel = f"shards/{shard_name(shard, num_shards)}.tar"
        self.partial = out / "shards" / f".{shard_name(shard, num_shards)}.tar.partial"
        final = out / self.tar_rel
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
        return f"{self.tar_rel}#{self.member_name(stem)}"

    def commit(self, record: dict[str, Any]) -> None:
        stem = Path(record["file"].split("#")[-1]).stem
        data = self._pending.pop(stem)
        meta = json.dumps(record, sort_keys=True).encode()
        self._tar.write(_tar_member(self.member_name(stem), data) + _tar_member(f"{stem}.json", meta))
        self._tar.flush()
        record = dict(record, tar_end=self._tar.tell())
        super().commit(record)

    def finish(self, stats: dict[str, Any], order: Callable[[dict[str, Any]], int] | None = None) -> None:
        # A tar is repaired from its first damaged member on: its records stay in work-list order.
        self._tar.write(b"\0" * (2 * tarfile.BLOCKSIZE))  # end-of-archive marker
        self._tar.flush()
        os.fsync(self._tar.fileno())
        self._tar.close()
        os.replace(self.partial, self.out / self.tar_rel)
        super().finish(stats)

    def close(self) -> None:
        if not self._tar.closed:
            self._tar.close()
        super().close()


def open_shard_writer(output_format: str, out: Path, shard: int, num_shards: int, ext: str) -> ShardWriter:
    cls = {"imagefolder": ImageFolderWriter, "webdataset": WebDatasetWriter}[output_format]
    return cls(out, shard, num_shards, ext)
