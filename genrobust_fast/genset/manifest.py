"""manifest.json: what a generation job made, in a versioned schema.

    manifest = Manifest.create(job_id=jid, config=cfg, work=work, label_space=space, num_shards=8,
                               total_images=1000, output_format="webdataset")
    write_manifest(root, manifest)
    manifest = read_manifest(root)        # DatasetError: missing, not JSON, foreign or newer format
    manifest.label_space, manifest.num_shards, manifest.output_format

The `format` field is "genrobust-generated/<version>". Version 1 is what every release so far writes and
reads; a later version adds an upgrade step in `_UPGRADES` so that sets written before it still open.
A manifest keeps the fields it was read with (a newer writer's extra provenance fields survive a rewrite).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..fileio import atomic_write_json
from ..labels import LabelSpace
from .names import manifest_path

FORMAT_PREFIX = "genrobust-generated/"
VERSION = 1
OUTPUT_FORMATS = ("imagefolder", "webdataset")


def format_of(version: int) -> str:
    return f"{FORMAT_PREFIX}{version}"


# version -> a function that turns a manifest of that version into one of the next; empty while 1 is the
# only version there has been.
_UPGRADES: dict[int, Any] = {}


@dataclass(frozen=True)
class Manifest:
    """A generated set's manifest: typed access to the fields readers use, the JSON kept as written."""

    data: dict[str, Any]

    @classmethod
    def create(
        cls,
        *,
        job_id: str,
        config: dict[str, Any],
        label_space: LabelSpace,
        num_shards: int,
        total_images: int,
        output_format: str,
        **fields: Any,
    ) -> Manifest:
        """A current-version manifest; `fields` are the job's other records (work, weights_hash, ...)."""
        return cls(
            {
                "format": format_of(VERSION),
                "job_id": job_id,
                "config": config,
                "label_space": label_space.to_json(),
                "num_shards": num_shards,
                "total_images": total_images,
                "output_format": output_format,
                **fields,
            }
        )

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def job_id(self) -> str | None:
        return self.data.get("job_id")

    @property
    def config(self) -> dict[str, Any]:
        return self.data.get("config") or {}

    @property
    def label_space(self) -> LabelSpace:
        return LabelSpace.from_json(self.data["label_space"])

    @property
    def num_shards(self) -> int:
        return int(self.data.get("num_shards") or 0)

    @property
    def total_images(self) -> int | None:
        return self.data.get("total_images")

    @property
    def output_format(self) -> str:
        return self.data.get("output_format", "imagefolder")

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


def is_generated_set(root: str | Path) -> bool:
    """Whether `root` holds a manifest (a `genrobust generate --out` folder), valid or not."""
    return manifest_path(root).is_file()


def parse_manifest(data: Any, source: Path) -> Manifest:
    """A manifest from its JSON, upgraded to the current version; DatasetError for anything else."""
    fmt = data.get("format") if isinstance(data, dict) else None
    version = _version(fmt)
    if version is None:
        raise DatasetError(
            f"{source} has format {fmt!r}, not a genrobust generated set ({format_of(VERSION)!r})"
        )
    if version > VERSION:
        raise DatasetError(
            f"{source} has format {fmt!r}, written by a newer genrobust than this one (reads up to "
            f"{format_of(VERSION)!r}); upgrade genrobust-fast to read it"
        )
    while version < VERSION:
        data, version = _UPGRADES[version](data), version + 1
    manifest = Manifest(data)
    if manifest.output_format not in OUTPUT_FORMATS:
        raise DatasetError(
            f"{source}: unknown output_format {manifest.output_format!r}; expected imagefolder or webdataset"
        )
    return manifest


def _version(fmt: Any) -> int | None:
    if not isinstance(fmt, str) or not fmt.startswith(FORMAT_PREFIX):
        return None
    number = fmt.removeprefix(FORMAT_PREFIX)
    return int(number) if number.isdigit() and int(number) >= 1 else None


def read_manifest(root: str | Path) -> Manifest:
    """The manifest of the generated set `root`; DatasetError when it is missing, unreadable or foreign."""
    path = manifest_path(root)
    if not path.is_file():
        raise DatasetError(
            f"{str(root)!r} has no manifest.json, so it is not a generated set written by `genrobust "
            "generate`; pass the folder given to `genrobust generate --out`"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is not valid JSON ({exc}); regenerate or restore it") from exc
    return parse_manifest(data, path)


def write_manifest(root: str | Path, manifest: Manifest) -> None:
    atomic_write_json(manifest_path(root), manifest.to_json())
