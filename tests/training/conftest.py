"""DeepSpeed on the CPU: gloo, one thread per rank, op builds cached under build/ like `make test`."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / "build" / "cache" / "torch_extensions"))


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Session scope: module-scoped runs and the runs compared with them must use the same thread count
    # (float sums in another order would differ in the last bits).
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
