"""Classifiers shared by training and evaluation: the torchvision factory and the checkpoint card.

A trained classifier is stored as two files side by side (written atomically):
    model.safetensors   the state dict (no pickles; load never runs arbitrary code)
    model.json          the ClassifierCard: architecture, label space, preprocessing, training recipe

    model = create_classifier("resnet18", num_classes=10)
    save_classifier(model, card, "run/model.safetensors")
    model, card = load_classifier("run/model.safetensors")
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .constants import IMAGENET_MEAN, IMAGENET_STD
from .errors import InputError
from .fileio import atomic_path, atomic_write_json
from .labels import LabelSpace

# Architectures the paper trained plus common modern ones; any torchvision classification model works.
KNOWN_ARCHITECTURES = (
    "resnet18",
    "resnet50",
    "resnext50_32x4d",
    "mobilenet_v2",
    "efficientnet_b0",
    "vgg16_bn",
    "alexnet",
    "vit_b_16",
    "convnext_tiny",
    # Sized for 28-32 px images (small_nets.py): what the demo trains.
    "cifar_resnet8",
    "cifar_resnet20",
)


@dataclass(frozen=True)
class Preprocessing:
    """Evaluation-time preprocessing a classifier expects."""

    resize: int = 256
    crop: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"


@dataclass(frozen=True)
class ClassifierCard:
    arch: str
    label_space: LabelSpace
    preprocessing: Preprocessing = Preprocessing()
    # Training-data recipe: real/generated counts, ratio, generator model and strategy, etc.
    recipe: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "genrobust-classifier/1",
            "arch": self.arch,
            "num_classes": len(self.label_space),
            "label_space": self.label_space.to_json(),
            "preprocessing": dataclasses.asdict(self.preprocessing),
            "recipe": self.recipe,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClassifierCard:
        pre = dict(data.get("preprocessing", {}))
        for key in ("mean", "std"):
            if key in pre:
                pre[key] = tuple(pre[key])
        return cls(
            arch=data["arch"],
            label_space=LabelSpace.from_json(data["label_space"]),
            preprocessing=Preprocessing(**pre),
            recipe=data.get("recipe", {}),
        )


def create_classifier(arch: str, num_classes: int, **kwargs: Any):
    """A torchvision classification model, or one of small_nets.SMALL_NETS, with its head sized to
    `num_classes` (random init).

    Example: create_classifier("resnet50", num_classes=1000)
    """
    import torchvision

    from .small_nets import SMALL_NETS, create_small_net

    available = set(torchvision.models.list_models(module=torchvision.models)) | set(SMALL_NETS)
    if arch not in available:
        close = sorted(a for a in available if a.split("_")[0] in arch or arch.split("_")[0] in a)[:8]
        raise InputError(
            f"unknown architecture {arch!r}; use a torchvision classification model name"
            f" such as {', '.join(close or KNOWN_ARCHITECTURES[:5])}, or one sized for small images:"
            f" {', '.join(SMALL_NETS)}"
        )
    if num_classes < 1:
        raise InputError(f"num_classes must be positive, got {num_classes}")
    if arch in SMALL_NETS:
        return create_small_net(arch, num_classes, **kwargs)
    return torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **kwargs)


def card_path(weights_path: str | Path) -> Path:
    return Path(weights_path).with_suffix(".json")


def save_classifier(model, card: ClassifierCard, weights_path: str | Path) -> Path:
    """Write model.safetensors (atomically) and its model.json card; returns the weights path."""
    from safetensors.torch import save_file

    weights_path = Path(weights_path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights_path) as tmp:
        save_file(state, str(tmp), metadata={"arch": card.arch})
    atomic_write_json(card_path(weights_path), card.to_json())
    return weights_path


def read_safetensors(path: str | Path, fix: str, device: str = "cpu") -> dict[str, Any]:
    """The tensors of a .safetensors file; a damaged or foreign file is an InputError ending in `fix`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device=device)
    except SafetensorError as exc:
        raise InputError(f"{str(path)!r} is not a valid safetensors file ({exc}); {fix}") from None


def _read_card(meta_path: Path) -> ClassifierCard:
    try:
        return ClassifierCard.from_json(json.loads(meta_path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"checkpoint card {str(meta_path)!r} is not a genrobust classifier card "
            f"({type(exc).__name__}: {exc}); "
            "restore it from the training run, or re-export it with `genrobust train --resume --out RUN`"
        ) from None


def load_classifier(weights_path: str | Path, map_location: str = "cpu"):
    """(model, card) from a weights file written by save_classifier."""
    weights_path = Path(weights_path)
    meta_path = card_path(weights_path)
    if not weights_path.is_file():
        raise InputError(
            f"checkpoint {str(weights_path)!r} does not exist; pass the model.safetensors of a training run"
        )
    if not meta_path.is_file():
        raise InputError(
            f"checkpoint card {str(meta_path)!r} is missing; it is written next to the weights by "
            "`genrobust train`. For other weights use --arch NAME --weights FILE"
        )
    card = _read_card(meta_path)
    state = read_safetensors(
        weights_path,
        "the file is damaged or was never a checkpoint: copy it again, or "
        "re-export it from the run's last checkpoint with `genrobust train --resume --out RUN`",
        device=map_location,
    )
    model = create_classifier(card.arch, len(card.label_space))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(
            f"weights {str(weights_path)!r} do not fit the {card.arch} with {len(card.label_space)} classes "
            f"its card {str(meta_path)!r} describes ({str(exc).splitlines()[0]}); keep each "
            "model.safetensors with its own model.json"
        ) from None
    model.eval()
    return model, card
