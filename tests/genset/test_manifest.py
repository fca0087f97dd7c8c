"""manifest.json: sets written before the schema had an owner open unchanged; a newer or foreign format is
refused with a message that says which and what to do."""

import json

import pytest

from genrobust_fast.errors import DatasetError
from genrobust_fast.genset import Manifest, manifest_path, read_manifest, write_manifest
from genrobust_fast.labels import LabelSpace

# The manifest `genrobust generate` wrote at 7dd3eb8 (format version 1), field for field.
VERSION_1 = {
    "config": {"model": "tiny", "per_class": 2, "shards": 1, "strategy": "class_labels"},
    "format": "genrobust-generated/1",
    "job_id": "ab" * 32,
    "label_space": {"ids": ["n01443537", "n01440764"], "names": ["goldfish", "tench"]},
    "num_shards": 1,
    "output_format": "webdataset",
    "precision": "fp32",
    "total_images": 4,
    "weights_hash": "cd" * 32,
    "work": {"classes": "file", "per_class": 2},
}


def test_a_version_1_manifest_opens_with_every_field(tmp_path):
    manifest_path(tmp_path).write_text(json.dumps(VERSION_1, indent=2, sort_keys=True) + "\n")
    manifest = read_manifest(tmp_path)
    assert manifest.label_space == LabelSpace(("n01443537", "n01440764"), ("goldfish", "tench"))
    assert (manifest.num_shards, manifest.total_images, manifest.output_format) == (1, 4, "webdataset")
    assert manifest.job_id == "ab" * 32 and manifest["weights_hash"] == "cd" * 32
    assert manifest.to_json() == VERSION_1


def test_a_written_manifest_is_the_file_generate_wrote_before(tmp_path):
    created = Manifest.create(
        job_id=VERSION_1["job_id"],
        config=VERSION_1["config"],
        label_space=LabelSpace(("n01443537", "n01440764"), ("goldfish", "tench")),
        num_shards=1,
        total_images=4,
        output_format="webdataset",
        work=VERSION_1["work"],
        weights_hash=VERSION_1["weights_hash"],
        precision="fp32",
    )
    write_manifest(tmp_path, created)
    assert manifest_path(tmp_path).read_text() == json.dumps(VERSION_1, indent=2, sort_keys=True) + "\n"
    assert read_manifest(tmp_path) == created


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps({**VERSION_1, "format": "genrobust-generated/2"}), "written by a newer genrobust"),
        (json.dumps({**VERSION_1, "format": "other-tool/1"}), "not a genrobust generated set"),
        (json.dumps(["not", "an", "object"]), "has format None, not a genrobust generated set"),
        (json.dumps({**VERSION_1, "output_format": "zip"}), "unknown output_format 'zip'"),
        ('{"format": "genrobust-generated/1",', "is not valid JSON"),
    ],
)
def test_a_manifest_that_is_not_ours_is_refused_by_name(tmp_path, text, message):
    manifest_path(tmp_path).write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_manifest(tmp_path)


def test_a_folder_without_a_manifest_says_which_folder_to_pass(tmp_path):
    with pytest.raises(DatasetError, match="has no manifest.json.*genrobust generate --out"):
        read_manifest(tmp_path)
