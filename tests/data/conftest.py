"""The loaders' trees (scan caches are made private for every test in tests/conftest.py)."""

import pytest

from genrobust_fast.data import generated_table, real_table
from genrobust_fast.labels import LabelSpace

from .trees import CLASSES, generated_set, real_tree


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """(label space, real table, generated table): real JPEGs of 48x64, a generated WebDataset set."""
    root = tmp_path_factory.mktemp("loaders")
    space = LabelSpace.from_ids(CLASSES)
    real = real_table(real_tree(root / "real", per_class=4, size=(48, 64)), space)
    gen, _ = generated_table(generated_set(root / "gen", per_class=4, fmt="webdataset", size=(40, 40)), space)
    return space, real, gen
