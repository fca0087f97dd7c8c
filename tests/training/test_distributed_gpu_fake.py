"""Issue 25: a GPU rank joins NCCL the way NCCL needs, checked on a CPU machine with the GPU faked.

NCCL binds a communicator to the CUDA device current when the group starts, so each rank must take its
device from LOCAL_RANK and make it current *before* init; otherwise every rank of a node lands on GPU 0.
Only what needs the GPU is faked: torch.cuda's device calls and DeepSpeed's NCCL start-up, which here
starts a real one-rank gloo group in its place and records the backend asked for and the device then
current.
"""

import torch
import torch.distributed as dist

from genrobust_fast.training import distributed


def test_a_launched_gpu_rank_sets_its_device_from_local_rank_before_nccl_starts(monkeypatch):
    events = []
    current = [0]

    def set_device(device):
        current[0] = torch.device(device).index
        events.append(("set_device", current[0]))

    def init_distributed(dist_backend, auto_mpi_discovery):
        events.append(("init", dist_backend, current[0]))
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{distributed.free_port()}", rank=0, world_size=1
        )

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    monkeypatch.setattr(
        distributed, "import_deepspeed", lambda: type("ds", (), {"init_distributed": init_distributed})
    )
    # torchrun's variables for the second process on a node with two GPUs
    for key, value in {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")
    device = distributed.pick_device("auto")
    assert device == "cuda:1" and events == [("set_device", 1)]
    # init_distributed makes the rank's device current itself, whatever is current when it is called
    current[0] = 0
    events.clear()
    try:
        assert distributed.init_distributed(device) == (0, 1)  # the one-rank stand-in's numbers
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert events == [("set_device", 1), ("init", "nccl", 1)]
