"""Scan caches of the tests go to a temporary folder, never to the user's cache; the loaders' trees."""

import pytest

from genrobust_fast.data import generated_table, real_table
from genrobust_fast.labels import LabelSpace

from .trees import CLASSES, generated_set, real_tree


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    # Session scope: module-scoped tree fixtures (and the ranks they start) must see the same cache.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENROBUST_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "genrobust-cache"))
        yield


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """(label space, real table, generated table): real JPEGs of 48x64, a generated WebDataset set."""
    root = tmp_path_factory.mktemp("loaders")
    space = LabelSpace.from_ids(CLASSES)
    real = real_table(real_tree(root / "real", per_class=4, size=(48, 64)), space)
    gen, _ = generated_table(generated_set(root / "gen", per_class=4, fmt="webdataset", size=(40, 40)), space)
    return space, real, gen
