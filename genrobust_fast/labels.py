"""Label spaces: ordered class ids (WordNet ids or any folder names) with human-readable names.

Labels are always aligned by class id, never by folder order: a dataset maps its folders to ids, and
a model's output index i means `label_space.ids[i]`.

    space = imagenet_label_space()                 # 1000 classes in the standard index order
    space = named_label_space("imagenet100")       # the CMC 100-class subset, ImageNet order
    space.index("n01440764") -> 0;  space.names[0] -> "tench"
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import InputError
from .textfiles import read_lines


@dataclass(frozen=True)
class LabelSpace:
    ids: tuple[str, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.names):
            raise InputError(f"label space has {len(self.ids)} ids but {len(self.names)} names")
        if len(set(self.ids)) != len(self.ids):
            dupes = sorted({i for i in self.ids if self.ids.count(i) > 1})
            raise InputError(f"label space repeats class ids {dupes[:5]}; every class id must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {cid: i for i, cid in enumerate(self.ids)}

    def index(self, class_id: str) -> int:
        try:
            return self._positions[class_id]
        except KeyError:
            raise InputError(
                f"class id {class_id!r} is not in this label space of {len(self)} classes "
                f"(first ids: {', '.join(self.ids[:3])}, ...)"
            ) from None

    def __contains__(self, class_id: object) -> bool:
        return class_id in self._positions

    def name_of(self, class_id: str) -> str:
        return self.names[self.index(class_id)]

    def subset(self, class_ids: Iterable[str]) -> LabelSpace:
        """The given ids, in this space's order (unknown ids are an error)."""
        wanted = set(class_ids)
        missing = sorted(wanted - set(self.ids))
        if missing:
            raise InputError(f"class ids not in the label space: {missing[:10]}")
        keep = [i for i, cid in enumerate(self.ids) if cid in wanted]
        return LabelSpace(tuple(self.ids[i] for i in keep), tuple(self.names[i] for i in keep))

    def to_json(self) -> dict:
        return {"ids": list(self.ids), "names": list(self.names)}

    @classmethod
    def from_json(cls, data: dict) -> LabelSpace:
        return cls(tuple(data["ids"]), tuple(data["names"]))

    @classmethod
    def from_ids(cls, ids: Sequence[str], names: Sequence[str] | None = None) -> LabelSpace:
        return cls(tuple(ids), tuple(names) if names is not None else tuple(ids))


def _resource_text(name: str) -> str:
    return resources.files("genrobust_fast.resources").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def imagenet_label_space() -> LabelSpace:
    """The 1000 ImageNet-1k classes in standard index order, with CLIP's clean class names."""
    rows = [line.split("\t") for line in _resource_text("imagenet_classes.tsv").splitlines()[1:] if line]
    return LabelSpace(tuple(r[1] for r in rows), tuple(r[2] for r in rows))


@functools.cache
def _subset_wnids(name: str) -> tuple[str, ...]:
    return tuple(_resource_text(f"{name}_wnids.txt").split())


NAMED_SUBSETS = ("imagenet", "imagenet100", "imagenet_r", "imagenet_a")


def named_label_space(name: str) -> LabelSpace:
    """`imagenet`, `imagenet100`, `imagenet_r` (200) or `imagenet_a` (200), in ImageNet index order."""
    key = name.replace("-", "_").lower()
    if key == "imagenet":
        return imagenet_label_space()
    if key in NAMED_SUBSETS:
        return imagenet_label_space().subset(_subset_wnids(key))
    raise InputError(f"unknown class set {name!r}; choose one of {', '.join(NAMED_SUBSETS)} or pass a file")


def imagenet_templates() -> tuple[str, ...]:
    """The 80 OpenAI CLIP ImageNet prompt templates, each with one `{}` for the class name."""
    return tuple(line for line in _resource_text("imagenet_templates.txt").splitlines() if line)


def read_label_space_file(path: str | Path) -> LabelSpace:
    """A `class_id<TAB>name` file (one class a line; name optional; `#` comments allowed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"class file {str(path)!r} does not exist; give a file of 'class_id<TAB>name' lines")
    ids, names = [], []
    for lineno, line in enumerate(read_lines(path, "class file"), 1):
        line = line.rstrip()  # not strip(): a leading tab means an empty class id
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cid, _, name = line.partition("\t")
        cid = cid.strip()
        if not cid:
            raise InputError(f"{path}:{lineno}: empty class id; expected 'class_id<TAB>name'")
        if any(ch.isspace() for ch in cid):
            # A space-separated line would otherwise become one class id with spaces in it.
            raise InputError(
                f"{path}:{lineno}: {line!r} is not 'class_id<TAB>name' (class ids hold no spaces; separate "
                "the id from the name with a tab)"
            )
        ids.append(cid)
        names.append(name.strip() or cid.replace("_", " "))
    if not ids:
        raise InputError(f"class file {str(path)!r} lists no classes")
    return LabelSpace(tuple(ids), tuple(names))


def label_space_from_folders(root: str | Path) -> LabelSpace:
    """Class folders of an ImageFolder tree, sorted by id; ImageNet ids get their clean names."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{str(root)!r} is not a folder; give an ImageFolder root with one folder per class")
    ids = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not ids:
        raise InputError(f"{str(root)!r} holds no class folders; expected <root>/<class_id>/<image files>")
    imagenet = imagenet_label_space()
    names = [imagenet.name_of(c) if c in imagenet else c.replace("_", " ") for c in ids]
    return LabelSpace(tuple(ids), tuple(names))


def resolve_label_space(spec: str) -> LabelSpace:
    """A named class set, a class file, or an ImageFolder root."""
    if spec.replace("-", "_").lower() in NAMED_SUBSETS:
        return named_label_space(spec)
    path = Path(spec)
    if path.is_dir():
        return label_space_from_folders(path)
    return read_label_space_file(path)


def read_class_map(path: str | Path) -> dict[str, str]:
    """{folder: class_id} from a JSON object or 'folder<TAB>class_id' lines (`#` comments allowed), for a
    benchmark whose folders are not named by class id."""
    path = Path(path)
    text = "\n".join(read_lines(path, "class map"))
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(f"class map {str(path)!r} is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InputError(f"class map {str(path)!r} holds a JSON {type(data).__name__}, not an object")
        return {str(k): str(v) for k, v in data.items()}
    pairs = [line.split("\t")[:2] for line in text.splitlines() if line.strip() and not line.startswith("#")]
    bad = [p for p in pairs if len(p) != 2]
    if bad:
        raise InputError(f"{path}: expected 'folder<TAB>class_id' lines, got {bad[0]!r}")
    return {k.strip(): v.strip() for k, v in pairs}
