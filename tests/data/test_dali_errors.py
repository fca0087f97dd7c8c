"""A file DALI's decoder fails on is named (issue 28): DALI reports "sample #k" of a batch inside its
pipeline definition's traceback; the loader finds the file and says what to do, on DALI's CPU operators."""

import pytest

from genrobust_fast.data import SequentialOrder, create_loader, real_table
from genrobust_fast.errors import DatasetError
from genrobust_fast.labels import LabelSpace
from tests.data.trees import CLASSES, real_tree

pytest.importorskip("nvidia.dali")


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("position", [0, 3, 5])  # first batch, a prefetched one, the last sample
def test_a_file_dali_cannot_decode_is_named_without_dalis_traceback(tmp_path, train, position):
    root = real_tree(tmp_path / "real", per_class=2)
    files = sorted(p for c in CLASSES for p in (root / c).iterdir())
    broken = files[position]
    data = broken.read_bytes()
    broken.write_bytes(data[: int(len(data) * 0.8)])  # the header reads, the scan ends early
    real = real_table(root, LabelSpace.from_ids(CLASSES))
    loader = create_loader("dali", [real], SequentialOrder(len(real), 2), (8, 8), train=train, workers=0)
    with pytest.raises(DatasetError) as caught:
        list(loader.epoch(0))
    message = str(caught.value)
    assert f"DALI: cannot decode {broken} (OSError: image file is truncated" in message, message
    assert "`genrobust data check`" in message and "traceback" not in message and "\n" not in message
    assert sum(str(f) in message for f in files) == 1  # that file, no other
