"""DeepSpeed checkpoints that load without unpickling code, plus the exported classifier.

`<out>/checkpoints/<tag>/` is DeepSpeed's own format (so `zero_to_fp32` and other DeepSpeed tools
work); `<out>/checkpoints/latest` names the newest complete one (written atomically after every rank's files).
Loading goes through `SafeCheckpointEngine`, which calls torch.load(weights_only=True): a checkpoint
that would need arbitrary pickled classes is refused instead of executed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..fileio import atomic_write_text
from ..paths import contained
from ..writefail import writing
from .distributed import barrier

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"


def _safe_engine_class():
    from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine

    class SafeCheckpointEngine(TorchCheckpointEngine):
        def load(self, path: str, map_location=None):
            import pickle

            import torch

            try:
                return torch.load(path, map_location=map_location, weights_only=True)
            except pickle.UnpicklingError as exc:
                raise DatasetError(
                    f"checkpoint file {path} holds objects that would run code when loaded ({exc}); "
                    "refusing it. Resume only from checkpoints written by `genrobust train`"
                ) from exc

    return SafeCheckpointEngine


def install_safe_loading(engine) -> None:
    """Swap DeepSpeed's torch.load(weights_only=False) engine for the safe one."""
    import torch

    torch.serialization.add_safe_globals(_deepspeed_record_types())
    engine.checkpoint_engine = _safe_engine_class()(engine._config)


def _deepspeed_record_types() -> list:
    """Plain data records DeepSpeed pickles into its optimizer states (no custom unpickling logic).

    Only these classes are allowed besides tensors and builtins; anything else is refused.
    """
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    return [LossScaler, DynamicLossScaler, ZeroStageEnum, fragment_address]


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out) / CHECKPOINT_DIR


def latest_tag(out: str | Path) -> str | None:
    """The tag `checkpoints/latest` names, or None when there is no checkpoint yet. The tag is kept inside
    checkpoints/: one of "../other-run/..." would resume (and export as this run's) another run's weights."""
    path = checkpoint_dir(out) / "latest"
    if not path.is_file():
        return None
    try:
        tag = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} cannot be read ({exc}); {_LATEST_FIX}") from None
    folder = contained(checkpoint_dir(out), tag, source=path, fix=_LATEST_FIX)
    return tag if folder.is_dir() else None


_LATEST_FIX = (
    "write the name of a checkpoint folder beside it (e.g. step-00000100) into it, or delete it and "
    "train into a new --out"
)


def step_tag(step: int) -> str:
    return f"step-{step:08d}"


def save_checkpoint(engine, out: str | Path, step: int, client_state: dict[str, Any]) -> str:
    """Collective: every rank calls it. Returns the tag.

    `latest` is written by us, atomically, after every rank has finished its files: DeepSpeed's own
    `latest` is a plain overwrite that a kill can leave empty.
    """
    import torch.distributed as dist

    tag = step_tag(step)
    with writing(checkpoint_dir(out) / tag):  # `latest` still names the previous checkpoint: it is kept
        engine.save_checkpoint(
            str(checkpoint_dir(out)), tag=tag, client_state={"genrobust": client_state}, save_latest=False
        )
    barrier()
    if not dist.is_initialized() or dist.get_rank() == 0:
        atomic_write_text(checkpoint_dir(out) / "latest", tag)
    barrier()
    logger.info("checkpoint %s written", tag)
    return tag


def load_checkpoint(engine, out: str | Path) -> dict[str, Any] | None:
    """Restore weights, optimizer, schedule and return our client state; None when there is none."""
    tag = latest_tag(out)
    if tag is None:
        return None
    path, client = engine.load_checkpoint(str(checkpoint_dir(out)), tag=tag)
    if path is None or "genrobust" not in (client or {}):
        raise DatasetError(
            f"checkpoint {checkpoint_dir(out) / tag} is incomplete; delete it and `latest` to resume from an "
            "earlier one"
        )
    logger.info("resumed from %s", tag)
    return client["genrobust"]


def export_classifier(engine, card, out: str | Path, rank: int, precision: str) -> Path:
    """model.safetensors + model.json with fp32 weights, for `genrobust eval`. Collective: all ranks call it.

    Under bf16/fp16 the module holds rounded copies; the fp32 master weights live (partitioned) in the
    optimizer, and assembling them is a collective, so every rank takes part and rank 0 writes.
    """
    import torch

    from ..classifiers import create_classifier, save_classifier

    state = {}
    for name, param in engine.module.named_parameters():
        full = None
        if precision != "fp32":
            from deepspeed.utils import safe_get_full_fp32_param

            full = safe_get_full_fp32_param(param)
        state[name] = (full if full is not None else param.detach()).float().cpu()
    for name, buffer in engine.module.named_buffers():
        state[name] = buffer.detach().cpu().float() if buffer.is_floating_point() else buffer.detach().cpu()
    path = Path(out) / "model.safetensors"
    if rank == 0:
        model = create_classifier(card.arch, len(card.label_space))
        with torch.no_grad():
            model.load_state_dict(state)
        save_classifier(model, card, path)
    return path
