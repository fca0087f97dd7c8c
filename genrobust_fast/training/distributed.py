"""Process-group set-up for one process, `deepspeed` launcher ranks, or hand-started CPU ranks.

One process needs no launcher: the rendezvous variables are filled in (a free local port). The launcher
(`deepspeed --num_gpus N`, `--hostfile`) and hand-started ranks set RANK/WORLD_SIZE/MASTER_ADDR/
MASTER_PORT/LOCAL_RANK themselves. CPU ranks use gloo, GPU ranks NCCL.
"""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pick_device(requested: str) -> str:
    """The rank's device as a string ("cpu" or "cuda:<LOCAL_RANK>" under a launcher); see devices.py."""
    from ..devices import resolve_device

    return str(resolve_device(requested))


def launcher_rank() -> tuple[int, int]:
    """(rank, world_size) this process is about to have: the existing process group's, else the launcher's
    RANK/WORLD_SIZE (one process without a launcher: 0 of 1). Known before DeepSpeed is imported, so the
    inputs can be checked first."""
    import torch.distributed as dist

    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class _DropKnownNoise(logging.Filter):
    """Lines that would stand before every message of a CPU run, each telling the user nothing:
    ZeRO warns about every optimizer it did not write (ours is torch's SGD, which ZeRO 0-3 handle; the
    shipped configs say so with zero_allow_untested_optimizer), and torch's extension builder, imported by
    DeepSpeed, warns that a CUDA toolkit without a GPU is "No CUDA runtime"."""

    NOISE = ("untested optimizer", "No CUDA runtime is found")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.NOISE)


def _drop_known_noise(logger_: logging.Logger) -> None:
    if not any(isinstance(f, _DropKnownNoise) for f in logger_.filters):
        logger_.addFilter(_DropKnownNoise())


def import_deepspeed():
    """`import deepspeed`, naming the CPU accelerator when there is no GPU (instead of DeepSpeed warning
    that it failed to detect one) and dropping the warnings filtered above."""
    import torch

    if "DS_ACCELERATOR" not in os.environ and not torch.cuda.is_available():
        os.environ["DS_ACCELERATOR"] = "cpu"
    _drop_known_noise(logging.getLogger("torch.utils.cpp_extension"))  # before DeepSpeed imports it
    import deepspeed
    from deepspeed.utils import logger as ds_logger

    if os.environ.get("DS_ACCELERATOR") == "cpu":
        _skip_shm_comm_build()

    _drop_known_noise(ds_logger)
    return deepspeed


def _skip_shm_comm_build() -> None:
    """DeepSpeed's CPU backend JIT-compiles a shared-memory all-reduce op at every process group start
    (25-45 s on 2 cores the first time, per build folder; it also prints "built successfully"). Only
    DeepSpeed's inference all-reduce uses it; training all-reduces go through torch.distributed (gloo),
    so the build buys nothing here."""
    import importlib

    # By its module name: `deepspeed.comm.torch` as an attribute of deepspeed.comm is the torch package.
    importlib.import_module("deepspeed.comm.torch").build_shm_op = lambda: None


def init_distributed(device: str) -> tuple[int, int]:
    """(rank, world_size) after joining (or creating) the process group."""
    import torch.distributed as dist

    deepspeed = import_deepspeed()

    if "RANK" not in os.environ and "WORLD_SIZE" not in os.environ:
        os.environ.update(
            RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port())
        )
    if device.startswith("cuda"):
        import torch

        torch.cuda.set_device(torch.device(device))  # NCCL binds each rank to the current device
    if not dist.is_initialized():
        deepspeed.init_distributed(
            dist_backend="nccl" if device.startswith("cuda") else "gloo", auto_mpi_discovery=False
        )
    return dist.get_rank(), dist.get_world_size()


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group so every rank exits cleanly (gloo ranks may abort at exit otherwise)."""
    import torch.distributed as dist

    if dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()
            _forget_deepspeed_groups()


def _forget_deepspeed_groups() -> None:
    """DeepSpeed caches process groups in module globals; drop them so a later train() starts clean."""
    import deepspeed.comm.comm as ds_comm
    from deepspeed.utils import groups

    ds_comm.cdb = None
    for name, value in list(vars(groups).items()):
        if name.startswith("_") and name.isupper() and ("GROUP" in name or name.startswith("_MPU_")):
            setattr(groups, name, {} if isinstance(value, dict) else None)
    groups.mpu = None
    groups.mesh_device = None


def same_on_all_ranks(values: list[int], device: str) -> bool:
    """Whether every rank holds the same integers (e.g. dataset sizes: a rank that sees other files would
    index other images with the same sampler positions)."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_world_size() == 1:
        return True
    low = torch.tensor(values, dtype=torch.int64, device=device)
    high = low.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return bool(torch.equal(low, high))
