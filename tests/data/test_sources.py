import numpy as np
import pytest

from genrobust_fast.data import generated_table, real_table, resolve_train_label_space
from genrobust_fast.data.decode import decode_rgb
from genrobust_fast.errors import DatasetError
from genrobust_fast.labels import LabelSpace

from .trees import CLASSES, color_class, generated_set, real_tree


def _labels_match_pixels(table, space):
    for i in range(len(table)):
        image = decode_rgb(table.read_bytes(i), table.describe(i))
        assert space.ids[table.labels[i]] == color_class(image), table.describe(i)


@pytest.mark.parametrize("fmt", ["imagefolder", "webdataset"])
def test_generated_labels_follow_class_ids_not_manifest_or_folder_order(tmp_path, fmt):
    real = real_tree(tmp_path / "real", per_class=2)
    # The manifest lists the classes in reverse order; labels must still come from the real label space.
    gen = generated_set(tmp_path / "gen", per_class=3, fmt=fmt)
    space = resolve_train_label_space(real, gen, None)
    assert space.ids == CLASSES
    table, info = generated_table(gen, space)
    assert len(table) == 9 and info["format"] == fmt
    assert np.bincount(table.labels).tolist() == [3, 3, 3]
    _labels_match_pixels(table, space)
    _labels_match_pixels(real_table(real, space), space)
    assert info["recipe"]["model"] == "tiny" and info["recipe"]["weights_hash"] == "abc123"


def test_generated_set_missing_or_extra_classes_is_an_error_unless_allowed(tmp_path):
    space = LabelSpace.from_ids(CLASSES)
    missing = generated_set(tmp_path / "missing", per_class=1, classes=CLASSES[:2])
    with pytest.raises(
        DatasetError, match=r"no images of 1 training class.*n02979186.*--allow-missing-classes"
    ):
        generated_table(missing, space)
    table, info = generated_table(missing, space, allow_missing_classes=True)
    assert info["alignment"] == {"missing": [CLASSES[2]], "extra": []}
    assert sorted(set(table.labels.tolist())) == [0, 1]

    extra = generated_set(tmp_path / "extra", per_class=1, classes=CLASSES + ("n09999999",))
    with pytest.raises(DatasetError, match=r"not in the training label space \['n09999999'\]"):
        generated_table(extra, space)
    table, info = generated_table(extra, space, allow_missing_classes=True)
    assert info["alignment"]["extra"] == ["n09999999"] and len(table) == 3


def test_a_folder_without_manifest_is_read_as_a_plain_imagefolder_without_provenance(tmp_path):
    from genrobust_fast.data.sources import NO_PROVENANCE

    plain = real_tree(tmp_path / "plain", per_class=2)
    space = LabelSpace.from_ids(CLASSES)
    table, info = generated_table(plain, space)
    assert len(table) == 6 and sorted(table.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    assert all(f.split("/")[0] == space.ids[label] for f, label in zip(table.files, table.labels))
    assert info["recipe"] == {
        "provenance": NO_PROVENANCE,
        "output_format": "plain-imagefolder",
        "total_images": 6,
    }
    with pytest.raises(DatasetError, match="no manifest.json and none of its"):
        generated_table(tmp_path, space)  # the folder above the class folders
