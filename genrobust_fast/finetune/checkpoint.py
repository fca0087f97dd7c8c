"""Resumable training state of a finetuning run, under <out>/_finetune/.

    state-<step>/unet.safetensors, ema.safetensors, optimizer.pt    one committed checkpoint
    latest.json                                                     {"step": k, "dir": "state-<k>"}

A checkpoint folder is written completely before latest.json (written atomically) points at it, so
a SIGKILL at any moment leaves either the previous or the new checkpoint in force, never half of one.
The optimizer state is loaded with torch.load(weights_only=True): tensors and numbers only.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..fileio import atomic_path, atomic_write_json
from ..paths import contained
from ..writefail import writing

log = logging.getLogger(__name__)

LATEST = "latest.json"


def save_state(work: Path, step: int, unet, ema: dict | None, optimizer) -> None:
    folder = work / f"state-{step:08d}"
    with writing(folder):  # latest.json still names the previous checkpoint: it is kept
        _save_state(work, folder, step, unet, ema, optimizer)


def _save_state(work: Path, folder: Path, step: int, unet, ema: dict | None, optimizer) -> None:
    import torch
    from safetensors.torch import save_file

    if folder.exists():  # left by a run killed before it committed this step
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in unet.state_dict().items()},
        str(folder / "unet.safetensors"),
    )
    if ema is not None:
        save_file({k: v.cpu().contiguous() for k, v in ema.items()}, str(folder / "ema.safetensors"))
    with atomic_path(folder / "optimizer.pt") as tmp:
        torch.save(optimizer.state_dict(), tmp)
    previous = read_latest(work)
    atomic_write_json(work / LATEST, {"step": step, "dir": folder.name})
    if previous is not None and previous["dir"] != folder.name:
        shutil.rmtree(_state_folder(work, previous), ignore_errors=True)
    log.info("checkpoint at step %d", step)


def read_latest(work: Path) -> dict[str, Any] | None:
    """{"step": k, "dir": name} of the committed checkpoint, or None; a damaged file is a DatasetError."""
    path = work / LATEST
    if not path.is_file():
        return None
    try:
        latest = json.loads(path.read_text())
        if isinstance(latest["step"], bool) or not isinstance(latest["step"], int) or latest["step"] < 0:
            raise ValueError(f"step {latest['step']!r} is not a step number")
        _state_folder(work, latest)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{path} is damaged ({type(exc).__name__}: {exc}); delete {str(work)!r} to restart the "
            "finetuning from the base model"
        ) from None
    return latest


def _state_folder(work: Path, latest: dict[str, Any]) -> Path:
    """The checkpoint folder latest.json names, kept inside `work` (it is deleted when superseded)."""
    return contained(
        work,
        latest["dir"],
        source=work / LATEST,
        fix=f"delete {str(work)!r} to restart the finetuning from the base model",
    )


def load_state(work: Path, unet, ema: dict | None, optimizer) -> int:
    """Restore the latest checkpoint into the given objects; returns its step (0 when there is none)."""
    import torch
    from safetensors.torch import load_file

    latest = read_latest(work)
    if latest is None:
        return 0
    folder = _state_folder(work, latest)
    try:
        unet.load_state_dict(load_file(str(folder / "unet.safetensors")))
        if ema is not None:
            saved = load_file(str(folder / "ema.safetensors"))
            for key in ema:
                ema[key].copy_(saved[key])
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    except (OSError, KeyError, RuntimeError) as exc:
        raise DatasetError(
            f"checkpoint {str(folder)!r} cannot be loaded ({type(exc).__name__}: {exc}); "
            f"delete {str(work)!r} to restart the finetuning from the base model"
        ) from exc
    return int(latest["step"])
