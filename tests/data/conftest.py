"""Scan caches of the tests go to a temporary folder, never to the user's cache."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    # Session scope: module-scoped tree fixtures (and the ranks they start) must see the same cache.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENROBUST_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "genrobust-cache"))
        yield
