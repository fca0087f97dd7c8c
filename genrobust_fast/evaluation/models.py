"""Classifiers to evaluate: our checkpoints, or any torchvision architecture with a local weights file.

    model = load_eval_model(checkpoint="run/model.safetensors")
    model = load_eval_model(arch="resnet50", weights="resnet50-0676ba61.pth")   # ImageNet-1k

The label space is always explicit: a checkpoint's card carries it; a torchvision ImageNet state dict
means the 1000 ImageNet-1k classes in the standard index order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..classifiers import Preprocessing, create_classifier, load_classifier, read_safetensors
from ..errors import InputError
from ..fileio import sha256_file
from ..labels import LabelSpace, imagenet_label_space

logger = logging.getLogger(__name__)


@dataclass
class EvalModel:
    module: Any  # torch.nn.Module in eval mode
    name: str
    arch: str
    label_space: LabelSpace
    preprocessing: Preprocessing
    weights_path: Path
    weights_sha256: str
    source: str  # "checkpoint" | "torchvision"
    recipe: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arch": self.arch,
            "source": self.source,
            "weights": str(self.weights_path),
            "weights_sha256": self.weights_sha256,
            "num_classes": len(self.label_space),
            "recipe": self.recipe,
        }


def _load_failure(exc: Exception) -> str:
    """The useful part of a torch.load error: under weights_only, torch's first lines are generic advice
    (to load with weights_only=False, i.e. run the pickle) and the reason comes after them."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
        return "not a plain state dict of tensors: " + " ".join(detail.split())
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def _read_state_dict(path: Path) -> dict:
    import torch

    if path.suffix == ".safetensors":
        return read_safetensors(
            path, "the file is damaged or not a weights file: download or export it again"
        )
    try:
        # weights_only: a .pth is a pickle; refuse anything but tensors and plain containers.
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types (UnpicklingError, RuntimeError, EOFError...)
        raise InputError(
            f"cannot read weights file {str(path)!r} as a torch state dict ({_load_failure(exc)}); "
            "the file is damaged or not a weights file: download or export it again"
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise InputError(f"{str(path)!r} holds a {type(state).__name__}, not a state dict of tensors")
    # Checkpoints saved from DataParallel/DDP prefix every key with "module.".
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_torchvision_model(arch: str, weights: str | Path, name: str | None = None) -> EvalModel:
    """A torchvision architecture with an ImageNet-1k state dict from a local file."""
    weights = Path(weights)
    if not weights.is_file():
        raise InputError(
            f"weights file {str(weights)!r} does not exist; pass a torchvision ImageNet state dict"
        )
    space = imagenet_label_space()
    module = create_classifier(arch, num_classes=len(space))
    state = _read_state_dict(weights)
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(
            f"weights {str(weights)!r} do not fit torchvision {arch!r} with 1000 ImageNet classes ({first}); "
            "check --arch, or use --checkpoint for a genrobust training run"
        ) from exc
    module.eval()
    return EvalModel(
        module,
        name or f"{arch}:{weights.stem}",
        arch,
        space,
        Preprocessing(),
        weights,
        sha256_file(weights),
        "torchvision",
        {"training_data": "ImageNet-1k (torchvision weights)"},
    )


def load_checkpoint_model(checkpoint: str | Path, name: str | None = None) -> EvalModel:
    """A genrobust checkpoint (model.safetensors + model.json card)."""
    checkpoint = Path(checkpoint)
    module, card = load_classifier(checkpoint)
    default_name = checkpoint.parent.name if checkpoint.stem == "model" else checkpoint.stem
    return EvalModel(
        module,
        name or default_name,
        card.arch,
        card.label_space,
        card.preprocessing,
        checkpoint,
        sha256_file(checkpoint),
        "checkpoint",
        dict(card.recipe),
    )


def load_eval_model(
    checkpoint: str | Path | None = None,
    arch: str | None = None,
    weights: str | Path | None = None,
    name: str | None = None,
) -> EvalModel:
    """Either `checkpoint`, or `arch` + `weights` (never both).

    Example: load_eval_model(arch="mobilenet_v2", weights="mobilenet_v2-b0353104.pth")
    """
    if checkpoint is not None and (arch is not None or weights is not None):
        raise InputError("give either --checkpoint FILE or --arch NAME --weights FILE, not both")
    if checkpoint is not None:
        return load_checkpoint_model(checkpoint, name)
    if arch is None or weights is None:
        raise InputError("no model given: pass --checkpoint FILE, or --arch NAME with --weights FILE")
    return load_torchvision_model(arch, weights, name)
