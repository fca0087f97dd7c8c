"""From a TrainConfig to aligned image tables, the mix plan, the sampler, the loader and the model card."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..classifiers import ClassifierCard, Preprocessing
from ..constants import IMAGENET_MEAN, IMAGENET_STD, eval_resize
from ..data.mixing import MixedSampler, MixPlan
from ..data.sources import NO_PROVENANCE, ImageTable, generated_table, real_table, resolve_train_label_space
from ..errors import DatasetError
from ..labels import LabelSpace
from .config import TrainConfig

logger = logging.getLogger(__name__)


@dataclass
class TrainingData:
    cfg: TrainConfig
    label_space: LabelSpace
    tables: list[ImageTable]
    plan: MixPlan
    sampler: MixedSampler
    alignment: dict[str, list[str]] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    skipped_bad: int = 0
    empty_classes: list[str] = field(default_factory=list)

    @property
    def recipe(self) -> dict[str, Any]:
        """What the model was trained on, recorded in its card for evaluation and reports."""
        cfg = self.cfg
        recipe = {
            **self.plan.describe(),
            "real": cfg.real if not cfg.generated_only else None,
            "generated": cfg.generated,
            "generated_only": cfg.generated_only,
            "generated_count": cfg.generated_count,
            "allow_missing_classes": cfg.allow_missing_classes,
            "allow_empty_classes": cfg.allow_empty_classes,
            "empty_classes": self.empty_classes,
            "generated_missing_classes": self.alignment.get("missing", []),
            "generated_extra_classes": self.alignment.get("extra", []),
            "generator": self.generator,
            "augment": cfg.augment,
            "crop_scale": cfg.crop_scale,
            "skipped_bad_files": self.skipped_bad,
        }
        return recipe

    def make_loader(self, device: str):
        from ..data.loaders import create_loader

        size = (self.cfg.image_size, self.cfg.image_size)
        return create_loader(
            self.cfg.loader,
            self.tables,
            self.sampler,
            size,
            train=True,
            device=device,
            workers=self.cfg.workers,
            augment=self.cfg.augment,
            seed=self.cfg.seed,
            crop_scale=self.cfg.crop_scale,
        )

    def card(self, cfg: TrainConfig, precision: str, world_size: int, steps: int) -> ClassifierCard:
        resize = eval_resize(cfg.image_size)
        recipe = {
            **self.recipe,
            "arch": cfg.arch,
            "epochs": cfg.epochs,
            "steps": steps,
            "batch_size": cfg.batch_size,
            "world_size": world_size,
            "lr": cfg.lr,
            "schedule": cfg.schedule,
            "precision": precision,
            "label_smoothing": cfg.label_smoothing,
            "seed": cfg.seed,
            "image_size": cfg.image_size,
        }
        return ClassifierCard(
            arch=cfg.arch,
            label_space=self.label_space,
            preprocessing=Preprocessing(
                resize=resize, crop=cfg.image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD
            ),
            recipe=recipe,
        )


def prepare_data(cfg: TrainConfig, rank: int = 0, world_size: int = 1) -> TrainingData:
    """Tables aligned by class id, the mix plan and this rank's sampler."""
    space = resolve_train_label_space(cfg.real, cfg.generated, cfg.classes)
    tables: list[ImageTable] = []
    n_real, skipped = 0, 0
    if cfg.real is not None and not cfg.generated_only:
        real = real_table(cfg.real, space)
        tables.append(real)
        n_real = len(real)
        skipped += real.skipped_bad
    alignment, generator, n_generated = {}, {}, 0
    if cfg.generated is not None and (cfg.generated_only or cfg.ratio != 0):
        gen, info = generated_table(cfg.generated, space, cfg.allow_missing_classes)
        if info["recipe"].get("provenance") == NO_PROVENANCE and rank == 0:  # once per run, not once per rank
            logger.warning(
                "--generated %s has no manifest.json: reading it as a plain ImageFolder (labels from "
                "its class-folder ids); the run records no provenance for it",
                cfg.generated,
            )
        tables.append(gen)
        n_generated = len(gen)
        alignment, generator = info["alignment"], info["recipe"]
        skipped += gen.skipped_bad
    empty = _empty_classes(cfg, space, tables)
    plan = MixPlan.create(n_real, n_generated, cfg.ratio, cfg.generated_count, cfg.generated_only, cfg.seed)
    sampler = MixedSampler(plan, cfg.batch_size, rank, world_size)
    return TrainingData(cfg, space, tables, plan, sampler, alignment, generator, skipped, empty)


def _empty_classes(cfg: TrainConfig, space: LabelSpace, tables: list[ImageTable]) -> list[str]:
    """Classes without a single training image: the model would get an output it never learns. Refused
    unless --allow-empty-classes (then logged and recorded in the run)."""
    if not tables:
        return []  # no data at all: MixPlan says which option is missing
    counts = sum(t.class_counts(len(space)) for t in tables)
    empty = [cid for cid, n in zip(space.ids, counts) if n == 0]
    if not empty:
        return []
    where = []
    for cid in empty[:5]:
        folder = Path(cfg.real) / cid if cfg.real is not None and not cfg.generated_only else None
        where.append(
            f"{cid} ({folder}/ has no usable images)" if folder is not None and folder.is_dir() else cid
        )
    shown = ", ".join(where) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
    if not cfg.allow_empty_classes:
        raise DatasetError(
            f"{len(empty)} of {len(space)} training class(es) have no images: {shown}; add images, remove "
            "the class (its folder, or from --classes), or pass --allow-empty-classes to train it anyway "
            "(recorded in the run)"
        )
    logger.warning("training %d class(es) without images (--allow-empty-classes): %s", len(empty), shown)
    return empty
