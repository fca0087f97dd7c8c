"""Fixtures of the demo tests: a miniature Fashion-MNIST written as real IDX gz files."""

import gzip
import struct

import numpy as np
import pytest


def write_idx_file(path, array: np.ndarray, compress=True):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.fixture
def fmnist(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "fmnist"
    root.mkdir()
    for split, n in (("train", 40), ("t10k", 20)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        images[:, 0, 0] = labels  # each image carries its label in a pixel, so a label shift would show
        write_idx_file(root / f"{split}-images-idx3-ubyte.gz", images)
        write_idx_file(root / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture
def train_only_root(tmp_path):
    """Real Fashion-MNIST training images (40 per class), and a test split that cannot be read: its
    image file is garbage and its label file absent, so a gate that touched it would raise."""
    from genrobust_fast.demo.fashion_mnist import DEFAULT_ROOT, read_idx_split, select_per_class

    if not (DEFAULT_ROOT / "train-labels-idx1-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST not installed (make test installs it)")
    images, labels = read_idx_split(DEFAULT_ROOT, "train")
    keep = select_per_class(labels, 40, seed=3)
    root = tmp_path / "train-only"
    root.mkdir()
    write_idx_file(root / "train-images-idx3-ubyte.gz", images[keep])
    write_idx_file(root / "train-labels-idx1-ubyte.gz", labels[keep])
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(b"not an idx file")
    return root


@pytest.fixture
def write_idx():
    return write_idx_file


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The machine is shared: one intra-op thread keeps the tests' CPU use predictable."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
