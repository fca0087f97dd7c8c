"""The work list: which image gets which class, index, seed, prompt and source, by index arithmetic.

    plan = build_plan(cfg)                     # never materialises the work list
    plan.total, plan.num_shards                # 1_300_000, 130
    items = plan.shard_items(3)                # a lazy iterator over shard 3's WorkItems
    plan.item_at(12345)                        # the item at global position 12345

Global positions run class by class (class order of the label space, then image index). Shard k of N
takes positions k, k+N, k+2N, ... so every shard mixes all classes (good webdataset shards), shards
never overlap, and their union is the job. Each image's seed derives from (job seed, class id, index)
only, so any item can be regenerated alone, whatever the batch or shard it falls in.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..genset import image_stem, valid_class_id
from ..labels import LabelSpace, imagenet_templates, resolve_label_space
from ..textfiles import check_template, read_lines
from ..writefail import NAME_MAX
from .config import DEFAULT_SHARD_IMAGES, GenerateConfig

log = logging.getLogger(__name__)

LABEL_PROMPT = "a photo of a {}"


def derive_seed(job_seed: int, class_id: str, index: int) -> int:
    """A 63-bit seed from (job seed, class id, index): stable across runs, machines and Python versions."""
    digest = hashlib.sha256(f"genrobust-seed/1:{job_seed}:{class_id}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclass(frozen=True)
class WorkItem:
    position: int  # global position in the job
    class_id: str
    class_name: str
    index: int  # image index within its class
    seed: int
    strategy: str
    prompt: str | None  # None for image variations (no text)
    template_id: int | None
    prompt_id: int | None
    source_image: str | None  # real image path relative to --real

    @property
    def stem(self) -> str:
        return image_stem(self.class_id, self.index)


def read_template_file(path: str | Path) -> tuple[str, ...]:
    """Prompt templates, one a line, each with one `{}` for the class name (`#` comments allowed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"template file {str(path)!r} does not exist; give one template a line, e.g. 'a sketch of a {{}}'"
        )
    templates = []
    for lineno, line in enumerate(read_lines(path, "template file"), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        templates.append(check_template(text, f"{path}:{lineno}"))
    if not templates:
        raise InputError(f"template file {str(path)!r} holds no templates")
    return tuple(templates)


def read_prompt_file(path: str | Path) -> dict[str, list[str]]:
    """Prompts per class: `class_id<TAB>prompt` lines, or JSON lines {"class_id": ..., "prompt": ...}."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"prompt file {str(path)!r} does not exist; give 'class_id<TAB>prompt' lines or JSONL"
        )
    table: dict[str, list[str]] = {}
    for lineno, line in enumerate(read_lines(path, "prompt file"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.lstrip().startswith("{"):
            try:
                row = json.loads(line)
                cid, prompt = str(row["class_id"]), row["prompt"]
                if not isinstance(prompt, str):  # str(None) would prompt "None" for every image
                    raise TypeError(f"prompt is {prompt!r}, not a string")
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{path}:{lineno}: expected a JSON object with class_id and prompt ({exc})"
                ) from None
        else:
            cid, sep, prompt = line.partition("\t")
            if not sep:
                raise InputError(f"{path}:{lineno}: expected 'class_id<TAB>prompt', got {line[:60]!r}")
        if not prompt.strip():
            raise InputError(f"{path}:{lineno}: empty prompt for class {cid!r}")
        table.setdefault(cid.strip(), []).append(prompt.strip())
    if not table:
        raise InputError(f"prompt file {str(path)!r} holds no prompts")
    return table


def _check_ids(space: LabelSpace, counts: Sequence[int], ext: str) -> None:
    """Class ids become folder and file names (<out>/<id>/<id>_<index>.<ext>): refuse those that cannot,
    before any work, instead of an error at the first write."""
    for cid, count in zip(space.ids, counts):
        if not valid_class_id(cid):
            raise InputError(
                f"class id {cid!r} cannot name a folder (it is empty, has a slash or '#', or starts with "
                "'.'/'_'); rename it in the class file"
            )
        if any(ord(ch) < 32 or ch == "\x7f" for ch in cid):
            raise InputError(
                f"class id {cid!r} holds a control character (NUL, line break...); class ids become file "
                "names and lines of listings, so rename it in the class file"
            )
        longest = f"{image_stem(cid, max(count - 1, 0))}.{ext}"
        size, id_size = len(longest.encode()), len(cid.encode())
        if size > NAME_MAX:
            raise InputError(
                f"class id {cid[:40]!r}... is {id_size} bytes: its image files ({longest[-16:]!r} at the "
                f"end) would be {size} bytes, over the {NAME_MAX}-byte limit of a file name; use a class id "
                f"of at most {NAME_MAX - size + id_size} bytes (e.g. a WordNet id) and put the long text "
                "in the name column of the class file"
            )


# A job is bounded so that what scales with its shards (the dry run, the resume check, the workers' shard
# lists: one file stat or more per shard) stays quick: 10^9 images is ~780 ImageNet-1k train sets, and
# 10^5 shards of the default 10^4 images hold 10^9. Anything larger was a typo or is several jobs.
MAX_JOB_IMAGES = 10**9
MAX_SHARDS = 100_000


def _check_job_size(total: int, num_shards: int, classes: int) -> None:
    if total > MAX_JOB_IMAGES:
        raise InputError(
            f"this job asks for {total:,} images ({classes:,} classes), over the limit of {MAX_JOB_IMAGES:,} "
            "per job; lower --per-class (or --per-real), or split the classes over several jobs"
        )
    if num_shards > MAX_SHARDS:
        raise InputError(
            f"--shards {num_shards:,} is over the limit of {MAX_SHARDS:,}; use fewer, larger shards "
            f"(the default is one per {DEFAULT_SHARD_IMAGES:,} images)"
        )


class Plan:
    """Index arithmetic over per-class image counts; the work list exists only as a function."""

    def __init__(
        self,
        cfg: GenerateConfig,
        label_space: LabelSpace,
        counts: Sequence[int],
        real_names: Sequence[Sequence[str]] | None = None,
        prompts: dict[str, list[str]] | None = None,
        num_shards: int | None = None,
    ):
        self.cfg = cfg
        self.label_space = label_space
        self.counts = list(counts)
        self.real_names = real_names
        self.prompts = prompts
        self.templates: tuple[str, ...] = ()
        if cfg.strategy == "templates":
            self.templates = read_template_file(cfg.templates) if cfg.templates else imagenet_templates()
        self.offsets = [0]
        for n in self.counts:
            self.offsets.append(self.offsets[-1] + n)
        self.total = self.offsets[-1]
        self.num_shards = num_shards or cfg.shards or max(1, math.ceil(self.total / DEFAULT_SHARD_IMAGES))
        _check_job_size(self.total, self.num_shards, len(label_space))

    # -- shards ----------------------------------------------------------------------------------
    def shard_size(self, k: int) -> int:
        self._check_shard(k)
        return max(0, (self.total - k + self.num_shards - 1) // self.num_shards)

    def shard_positions(self, k: int) -> range:
        self._check_shard(k)
        return range(k, self.total, self.num_shards)

    def shard_items(self, k: int, start: int = 0) -> Iterator[WorkItem]:
        """Shard k's items in order, from its `start`-th item on (lazy)."""
        for pos in self.shard_positions(k)[start:]:
            yield self.item_at(pos)

    def shard_of(self, position: int) -> int:
        return position % self.num_shards

    def _check_shard(self, k: int) -> None:
        if not 0 <= k < self.num_shards:
            raise InputError(f"shard {k} does not exist; this job has shards 0..{self.num_shards - 1}")

    # -- items -----------------------------------------------------------------------------------
    def position_of(self, class_id: str, index: int) -> int:
        c = self.label_space.index(class_id)
        if not 0 <= index < self.counts[c]:
            raise InputError(
                f"class {class_id!r} has images 0..{self.counts[c] - 1} in this job, not {index}"
            )
        return self.offsets[c] + index

    def item_at(self, position: int) -> WorkItem:
        if not 0 <= position < self.total:
            raise InputError(f"position {position} is outside this job of {self.total} images")
        c = bisect.bisect_right(self.offsets, position) - 1
        index = position - self.offsets[c]
        cid, name = self.label_space.ids[c], self.label_space.names[c]
        seed = derive_seed(self.cfg.seed, cid, index)
        strategy = self.cfg.strategy
        prompt: str | None = LABEL_PROMPT.format(name)
        template_id = prompt_id = None
        source = None
        if strategy == "templates":
            template_id = seed % len(self.templates)
            prompt = self.templates[template_id].format(name)
        elif strategy == "prompts":
            assert self.prompts is not None
            options = self.prompts[cid]
            prompt_id = index % len(options)
            prompt = options[prompt_id]
        if self.real_names is not None:
            source = f"{cid}/{self.real_names[c][index // self.cfg.per_real]}"
        if strategy == "variation":
            prompt = None
        return WorkItem(position, cid, name, index, seed, strategy, prompt, template_id, prompt_id, source)


def build_plan(cfg: GenerateConfig, num_shards: int | None = None) -> Plan:
    """Resolve classes, real images and prompts, and check them, before any work starts."""
    real_names = None
    if cfg.real and not cfg.uses_real:
        log.warning(
            "--real is ignored by strategy %r (only img2img and variation use real images)", cfg.strategy
        )
    if cfg.uses_real:
        space, real_names = _real_classes(cfg)
        counts = [len(names) * cfg.per_real for names in real_names]
    else:
        space = resolve_label_space(cfg.classes or "imagenet")
        counts = [cfg.per_class] * len(space)
    _check_ids(space, counts, cfg.image_format)
    prompts = None
    if cfg.strategy == "prompts":
        prompts = read_prompt_file(cfg.prompts)  # type: ignore[arg-type]
        missing = [cid for cid in space.ids if cid not in prompts]
        if missing:
            raise InputError(
                f"prompt file {cfg.prompts!r} has no prompts for {len(missing)} class(es), "
                f"e.g. {missing[:5]}; "
                "add 'class_id<TAB>prompt' lines for them or restrict --classes"
            )
        unknown = sorted(set(prompts) - set(space.ids))
        if unknown:
            raise InputError(
                f"prompt file {cfg.prompts!r} names {len(unknown)} class id(s) not in --classes, "
                f"e.g. {unknown[:5]}; "
                "fix the ids or add those classes to --classes"
            )
    return Plan(cfg, space, counts, real_names, prompts, num_shards)


def _real_classes(cfg: GenerateConfig) -> tuple[LabelSpace, list[tuple[str, ...]]]:
    from ..data.scan import scan_image_folder

    root = Path(cfg.real)  # type: ignore[arg-type]
    if not root.is_dir():
        raise InputError(
            f"--real {str(root)!r} is not a folder; give an ImageFolder tree <DIR>/<class_id>/<images>"
        )
    files = scan_image_folder(root)
    by_class = dict(zip(files.class_ids, files.names))
    space = resolve_label_space(cfg.classes) if cfg.classes else _space_for(files.class_ids)
    missing = [cid for cid in space.ids if not by_class.get(cid)]
    if missing:
        raise InputError(
            f"--real {str(root)!r} has no readable images for {len(missing)} of the {len(space)} classes "
            f"(e.g. {', '.join(missing[:5])}); add <DIR>/<class_id>/ images or restrict --classes"
        )
    unused = len(set(by_class) - set(space.ids))
    if unused:
        log.info("--real holds %d class folders outside --classes; they are not used", unused)
    return space, [by_class[cid] for cid in space.ids]


def _space_for(class_ids: Sequence[str]) -> LabelSpace:
    from ..labels import imagenet_label_space

    if not class_ids:
        raise InputError(
            "the --real folder holds no class folders with images; expected <DIR>/<class_id>/<images>"
        )
    imagenet = imagenet_label_space()
    names = [imagenet.name_of(c) if c in imagenet else c.replace("_", " ") for c in class_ids]
    return LabelSpace(tuple(class_ids), tuple(names))
