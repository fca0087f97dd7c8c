"""The one device resolver: every command turns its `--device` into an explicit `cpu` or `cuda:N` here.

    resolve_device("auto")    # with CUDA: cuda:<LOCAL_RANK> under a launcher (cuda:0 alone); else cpu
    resolve_device("cuda")    # cuda:<LOCAL_RANK>; an error without a GPU
    resolve_device("cuda:1")  # kept as asked
    resolve_device("cpu")

Launchers (`torchrun --nproc-per-node N`, `deepspeed --num_gpus N`) start one process per GPU and give
each its LOCAL_RANK; a bare `cuda` would put every process on GPU 0. A resolved GPU is also made the
current CUDA device, because libraries that are not handed a device (TensorRT's builder and runtime,
NCCL, DALI, `torch.cuda.current_stream()`) use the current one.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import BackendUnavailableError, InputError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def local_rank() -> int | None:
    """LOCAL_RANK set by a launcher, or None when this process was started alone."""
    value = os.environ.get("LOCAL_RANK")
    if value is None or value.strip() == "":
        return None
    try:
        rank = int(value)
    except ValueError:
        raise InputError(
            f"LOCAL_RANK={value!r} is not a whole number; unset it or let the launcher set it"
        ) from None
    if rank < 0:
        raise InputError(f"LOCAL_RANK={rank} is negative; unset it or let the launcher set it")
    return rank


def _visible() -> str:
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    return f" (CUDA_VISIBLE_DEVICES={mask})" if mask is not None else ""


def resolve_device(requested: str | torch.device | None = "auto") -> torch.device:
    """An explicit `cpu` or `cuda:N` for `requested` (None, "auto", "cpu", "cuda", "cuda:N").

    A resolved GPU becomes the current CUDA device (`torch.cuda.set_device`). Raises
    `BackendUnavailableError` when a GPU is asked for and none (or not that one) is visible, including
    LOCAL_RANK >= the number of visible GPUs, and `InputError` for a device that is none of these.
    """
    import torch

    text = "auto" if requested is None else str(requested).strip().lower()
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if text not in ("auto", "cuda") and not text.startswith("cuda:"):
        raise InputError(f"device {str(requested)!r} is not one of {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            f"device {text!r} was asked for but torch {torch.__version__} sees no CUDA GPU; "
            "use --device cpu (or auto) or run on a GPU machine"
        )
    count = torch.cuda.device_count()
    if text in ("auto", "cuda"):
        rank = local_rank()
        index = 0 if rank is None else rank
        if index >= count:
            raise BackendUnavailableError(
                f"LOCAL_RANK={rank} but only {count} GPU(s) are visible{_visible()}; start at most {count} "
                f"process(es) per node (e.g. torchrun --nproc-per-node {count}) or make more GPUs visible"
            )
    else:
        try:
            index = int(text.split(":", 1)[1])
        except ValueError:
            raise InputError(f"device {str(requested)!r} is not one of {DEVICE_CHOICES}") from None
        if not 0 <= index < count:
            raise BackendUnavailableError(
                f"device {text!r} was asked for but {count} GPU(s) are visible{_visible()} "
                f"(cuda:0..cuda:{count - 1}); pick one of those or use --device auto"
            )
    device = torch.device("cuda", index)
    torch.cuda.set_device(device)
    return device
