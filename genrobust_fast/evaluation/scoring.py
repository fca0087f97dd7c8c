"""Class policies: how a model's logits are scored against a benchmark's classes.

    mask  argmax over the benchmark's classes only (ImageNet-R/A's 200, ObjectNet's 125 mapped
          ImageNet classes); a class with several ImageNet members scores as the max of their logits
    full  argmax over every class the model has; correct if it lands in the image's class set

One pass of the model can feed several tasks: ImageNet val is also scored on the class subsets of
ImageNet-R, ImageNet-A and ObjectNet (the ID axes of their effective robustness).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError
from ..labels import LabelSpace
from .registry import CLASS_POLICIES


@dataclass
class ScoringTask:
    """Scores the images whose `sample_target` is >= 0 against `classes`."""

    name: str
    classes: LabelSpace
    members: list[np.ndarray]  # model output indices that count as each class
    policy: str
    sample_target: np.ndarray  # per image of the benchmark: class index in this task, or -1
    num_model_classes: int
    correct1: list[np.ndarray] = field(default_factory=list)
    correct5: list[np.ndarray] = field(default_factory=list)
    confidence: list[np.ndarray] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy not in CLASS_POLICIES:
            raise InputError(f"class policy {self.policy!r} is not one of {', '.join(CLASS_POLICIES)}")
        self.candidates = np.unique(np.concatenate(self.members)) if self.members else np.zeros(0, np.int64)
        # For each candidate column: which task class it belongs to.
        owner = np.full(self.num_model_classes, -1, dtype=np.int64)
        for c, idx in enumerate(self.members):
            owner[idx] = c
        self.owner = owner
        self._membership = torch.zeros(len(self.candidates), len(self.members))
        column = {int(j): i for i, j in enumerate(self.candidates)}
        self._columns = [
            torch.tensor([column[int(j)] for j in idx], dtype=torch.long) for idx in self.members
        ]
        for c, cols in enumerate(self._columns):
            self._membership[cols, c] = 1.0
        self._first = torch.stack([cols[0] for cols in self._columns]) if self._columns else None
        self._multi = [(c, cols) for c, cols in enumerate(self._columns) if len(cols) > 1]

    @property
    def num_scored_classes(self) -> int:
        return len(self.classes) if self.policy == "mask" else self.num_model_classes

    def update(self, logits: torch.Tensor, positions: np.ndarray) -> None:
        """Score one batch: `logits` (B, num_model_classes) for the images at `positions`."""
        targets = self.sample_target[positions]
        keep = targets >= 0
        if not keep.any():
            return
        logits = logits[torch.from_numpy(keep)].float()
        targets_t = torch.from_numpy(targets[keep])
        if self.policy == "mask":
            sub = logits[:, torch.from_numpy(self.candidates)]
            probs = sub.softmax(dim=1) @ self._membership  # class prob = sum over its members
            # Project: a class scores as its best member logit (plain masking for one-member classes).
            scores = sub[:, self._first].clone()
            for c, cols in self._multi:
                scores[:, c] = sub[:, cols].amax(dim=1)
            top = scores.topk(min(5, scores.shape[1]), dim=1).indices
            pred = top[:, 0]
            conf = probs.gather(1, pred[:, None])[:, 0]
            hit5 = (top == targets_t[:, None]).any(dim=1)
        else:
            probs = logits.softmax(dim=1)
            top = logits.topk(min(5, logits.shape[1]), dim=1).indices
            owner = torch.from_numpy(self.owner)[top]
            pred = owner[:, 0]
            conf = probs.gather(1, top[:, :1])[:, 0]
            hit5 = (owner == targets_t[:, None]).any(dim=1)
        self.correct1.append((pred == targets_t).numpy())
        self.correct5.append(hit5.numpy())
        self.confidence.append(conf.numpy().astype(np.float64))
        self.positions.append(positions[keep])

    def outcomes(self) -> dict[str, np.ndarray]:
        if not self.positions:
            empty = np.zeros(0)
            return {
                "correct1": empty.astype(bool),
                "correct5": empty.astype(bool),
                "confidence": empty,
                "positions": empty.astype(np.int64),
                "targets": empty.astype(np.int64),
            }
        positions = np.concatenate(self.positions)
        return {
            "correct1": np.concatenate(self.correct1),
            "correct5": np.concatenate(self.correct5),
            "confidence": np.concatenate(self.confidence),
            "positions": positions,
            "targets": self.sample_target[positions],
        }


def member_indices(classes: LabelSpace, members, model_space: LabelSpace, benchmark: str) -> list[np.ndarray]:
    """Model output indices for each benchmark class; classes the model lacks are an error."""
    missing = sorted({cid for group in members for cid in group if cid not in model_space})
    if missing:
        raise InputError(
            f"the model's label space ({len(model_space)} classes) does not cover benchmark {benchmark!r}: "
            f"{len(missing)} of its classes are missing (e.g. {', '.join(missing[:5])}). Evaluate a model "
            "trained on these classes, or a folder: benchmark holding only classes the model knows"
        )
    return [np.array([model_space.index(cid) for cid in group], dtype=np.int64) for group in members]


def make_task(
    name: str, classes: LabelSpace, members, targets: np.ndarray, model_space: LabelSpace, policy: str
) -> ScoringTask:
    return ScoringTask(
        name,
        classes,
        member_indices(classes, members, model_space, name),
        policy,
        np.asarray(targets, dtype=np.int64),
        len(model_space),
    )


def subset_task(
    name: str,
    base_classes: LabelSpace,
    base_targets: np.ndarray,
    subset_members: dict[str, tuple[str, ...]],
    subset_names: dict[str, str],
    model_space: LabelSpace,
    policy: str,
) -> ScoringTask:
    """Score the images of a base benchmark (ImageNet val) whose class belongs to a subset.

    `subset_members` maps each subset class to its base class ids (ObjectNet: folder -> wnids).
    """
    keys = sorted(subset_members)
    classes = LabelSpace(tuple(keys), tuple(subset_names.get(k, k) for k in keys))
    of_base = {}
    for c, key in enumerate(keys):
        for cid in subset_members[key]:
            of_base[cid] = c
    remap = np.array([of_base.get(cid, -1) for cid in base_classes.ids], dtype=np.int64)
    targets = remap[np.asarray(base_targets, dtype=np.int64)]
    return make_task(name, classes, [subset_members[k] for k in keys], targets, model_space, policy)
