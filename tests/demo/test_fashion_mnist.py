"""Fashion-MNIST IDX reading and conversion, on tiny IDX files written here."""

import gzip
import json

import numpy as np
import pytest
from PIL import Image

from genrobust_fast.demo.fashion_mnist import (
    CLASSES,
    convert_split,
    read_idx,
    read_idx_split,
    write_class_file,
)
from genrobust_fast.errors import DatasetError
from genrobust_fast.labels import label_space_from_folders, read_label_space_file


def test_read_idx_round_trips_shape_and_values(tmp_path, write_idx):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "a", array, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


def test_split_conversion_keeps_labels_and_pads_to_rgb32(fmnist, tmp_path):
    images, labels = read_idx_split(fmnist, "test")
    assert images.shape == (20, 28, 28) and labels.tolist() == [i % 10 for i in range(20)]
    out = convert_split(fmnist, "test", tmp_path / "out", per_class=2, seed=1)
    space = label_space_from_folders(out)
    assert set(space.ids) == {cid for cid, _ in CLASSES}
    assert space.name_of("ankle_boot") == "ankle boot"
    for c, (cid, _) in enumerate(CLASSES):
        files = sorted((out / cid).glob("*.png"))
        assert len(files) == 2
        for f in files:
            pixels = np.asarray(Image.open(f))
            assert pixels.shape == (32, 32, 3) and (pixels[..., 0] == pixels[..., 2]).all()
            assert pixels[0, 0, 0] == 0 and pixels[2, 2, 0] == c  # 2-pixel zero pad, label pixel intact
    marker = json.loads((out / "_complete.json").read_text())
    assert marker["images"] == 20 and marker["per_class"]["bag"] == 2


def test_class_file_reads_back_as_the_label_space(tmp_path):
    space = read_label_space_file(write_class_file(tmp_path / "classes.tsv"))
    assert space.ids[0] == "t-shirt" and space.names[-1] == "ankle boot" and len(space) == 10


def test_missing_truncated_and_foreign_files_are_clear_errors(fmnist, tmp_path):
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        read_idx_split(tmp_path / "nowhere", "train")
    good = gzip.decompress((fmnist / "train-images-idx3-ubyte.gz").read_bytes())
    (fmnist / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(good[:-10]))
    with pytest.raises(DatasetError, match="truncated"):
        read_idx_split(fmnist, "train")
    (tmp_path / "x.gz").write_bytes(gzip.compress(b"\x89PNG....."))
    with pytest.raises(DatasetError, match="magic"):
        read_idx(tmp_path / "x.gz")
    with pytest.raises(DatasetError, match="only 2 images"):
        convert_split(fmnist, "test", tmp_path / "too-many", per_class=3)
