"""Fixtures for generation tests: the tiny model as a diffusers folder, a small real ImageFolder tree."""

import numpy as np
import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # the test machine is shared; tiny models gain nothing from more


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    from genrobust_fast.engines import load_components, save_components

    return save_components(load_components("tiny"), tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="session")
def real_dir(tmp_path_factory):
    """Two ImageNet classes with 2 and 3 smooth random images of different sizes."""
    from PIL import Image

    root = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(0)
    for cid, n in (("n01440764", 2), ("n01443537", 3)):
        (root / cid).mkdir()
        for i in range(n):
            small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
            Image.fromarray(small).resize((40 + 8 * i, 30), Image.BILINEAR).save(root / cid / f"img_{i}.png")
    return root


def _file_hashes(root):
    """sha256 of every file under root (done markers hold timings: only their presence is compared; lock
    files hold the PID of the last job and are no output)."""
    import hashlib

    from genrobust_fast.outlock import is_lock_file

    return {
        str(p.relative_to(root)): "marker"
        if p.name.endswith(".done.json")
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not is_lock_file(p)
    }


@pytest.fixture(scope="session")
def files_of():
    """files_of(root) -> {relative path: sha256}, for byte-for-byte comparisons of job outputs."""
    return _file_hashes


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread, as the `OMP_NUM_THREADS=1` processes the byte comparisons are made against."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
