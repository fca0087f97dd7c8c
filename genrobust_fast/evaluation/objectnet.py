"""ObjectNet's own class mapping, read from the user's download (never shipped with the toolkit).

A real ObjectNet 1.0 download holds `mappings/` with:
    folder_to_objectnet_label.json    {"alarm_clock": "Alarm clock", ...}              (313 folders)
    objectnet_to_imagenet_1k.json     {"Alarm clock": "analog clock; digital clock"}   (113 labels)
    pytorch_to_imagenet_2012_id.json  {"0": 355, ...}  PyTorch class index -> line of the next file
    imagenet_to_label_2012_v2         one ImageNet class name per line (full synset lemmas)
An ObjectNet label maps to one or more ImageNet classes ("; "-separated names); an image counts as
correct when the argmax over the mapped ImageNet logits lies in its folder's set.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DatasetError
from ..labels import imagenet_label_space

MAPPING_FILES = (
    "folder_to_objectnet_label.json",
    "objectnet_to_imagenet_1k.json",
    "pytorch_to_imagenet_2012_id.json",
    "imagenet_to_label_2012_v2",
)


def find_objectnet_root(root: str | Path) -> Path:
    """The folder holding `images/` and `mappings/` (the given one, or its `objectnet-1.0/`)."""
    root = Path(root)
    for candidate in (root, root / "objectnet-1.0"):
        if (candidate / "mappings").is_dir() and (candidate / "images").is_dir():
            return candidate
    raise DatasetError(
        f"{str(root)!r} is not an ObjectNet 1.0 folder: expected images/ and mappings/ inside it "
        "(or inside its objectnet-1.0/); unpack the full ObjectNet download there"
    )


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read ObjectNet mapping {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"ObjectNet mapping {str(path)!r} should hold a JSON object")
    return data


def read_objectnet_mapping(root: str | Path) -> dict[str, tuple[str, ...]]:
    """{image folder name: ImageNet WordNet ids} for the folders that overlap ImageNet (113 in 1.0)."""
    mappings = find_objectnet_root(root) / "mappings"
    missing = [name for name in MAPPING_FILES if not (mappings / name).is_file()]
    if missing:
        raise DatasetError(
            f"ObjectNet mappings folder {str(mappings)!r} lacks {', '.join(missing)}; "
            "re-extract mappings/ from the ObjectNet download"
        )
    folder_to_label = _load_json(mappings / MAPPING_FILES[0])
    label_to_names = _load_json(mappings / MAPPING_FILES[1])
    pytorch_to_line = _load_json(mappings / MAPPING_FILES[2])
    lines = [line.strip() for line in (mappings / MAPPING_FILES[3]).read_text(encoding="utf-8").splitlines()]

    wnids = imagenet_label_space().ids
    # Names repeat in the 1k list (two "crane"s); they are only an error if a mapping uses them.
    name_to_wnid: dict[str, str | None] = {}
    for pytorch_index, line_index in pytorch_to_line.items():
        name = lines[int(line_index)]
        wnid = wnids[int(pytorch_index)]
        name_to_wnid[name] = None if name in name_to_wnid and name_to_wnid[name] != wnid else wnid
    label_to_folder = {label: folder for folder, label in folder_to_label.items()}

    result: dict[str, tuple[str, ...]] = {}
    for label, names in label_to_names.items():
        if label not in label_to_folder:
            raise DatasetError(f"ObjectNet label {label!r} has no folder in {MAPPING_FILES[0]}")
        ids = []
        for name in (n.strip() for n in names.split(";")):
            if name_to_wnid.get(name) is None:
                raise DatasetError(
                    f"ObjectNet label {label!r} maps to ImageNet class {name!r}, which is "
                    f"missing or ambiguous in {MAPPING_FILES[3]}"
                )
            ids.append(name_to_wnid[name])
        result[label_to_folder[label]] = tuple(ids)
    return result


def objectnet_labels(root: str | Path) -> dict[str, str]:
    """{folder: ObjectNet label} (display names)."""
    return {
        k: str(v) for k, v in _load_json(find_objectnet_root(root) / "mappings" / MAPPING_FILES[0]).items()
    }
