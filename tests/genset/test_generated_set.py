"""A set written by the real shard writers reads back through GeneratedSet: entries, bytes (from a finished
tar, a tar still being written, or files), recorded vs present, and records kept inside the set."""

import json

import numpy as np
import pytest

from genrobust_fast.errors import DatasetError
from genrobust_fast.generation.writers import encode_image, open_shard_writer
from genrobust_fast.genset import (
    Entry,
    GeneratedSet,
    Layout,
    Manifest,
    count_records,
    image_members,
    read_records,
    recorded_images,
    write_manifest,
)
from genrobust_fast.labels import LabelSpace

SPACE = LabelSpace(("tench_fish", "goldfish"), ("tench", "goldfish"))


def _image(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    return encode_image(pixels, "png", 90)


def _write_set(root, output_format, finish=True) -> dict[str, bytes]:
    """Three images of shard 0 of 1 through the generation writer; returns {record file: bytes}."""
    write_manifest(
        root,
        Manifest.create(
            job_id="0" * 64,
            config={},
            label_space=SPACE,
            num_shards=1,
            total_images=3,
            output_format=output_format,
        ),
    )
    writer = open_shard_writer(output_format, root, 0, 1, "png")
    written = {}
    for i, (class_id, index) in enumerate([("tench_fish", 0), ("tench_fish", 1), ("goldfish", 0)]):
        data = _image(i)
        stem = f"{class_id}_{index:07d}"
        file = writer.store(stem, class_id, data)
        writer.commit({"file": file, "class_id": class_id, "index": index, "bytes": len(data)})
        written[file] = data
    if finish:
        writer.finish({"shard": 0, "images": 3})
    else:
        writer.close()
    return written


@pytest.mark.parametrize("output_format", ["imagefolder", "webdataset"])
def test_every_recorded_image_reads_back_byte_for_byte(tmp_path, output_format):
    written = _write_set(tmp_path, output_format)
    with GeneratedSet.open(tmp_path) as gset:
        entries = list(gset.recorded_entries())
        assert [str(e) for e, _ in entries] == list(written)
        assert [cid for _, cid in entries] == ["tench_fish", "tench_fish", "goldfish"]
        assert {str(e): gset.read_bytes(e) for e, _ in entries} == written
        assert gset.done_shards() == [0] and gset.recorded_images() == 3


def test_a_shard_still_being_written_reads_from_its_partial_tar(tmp_path):
    written = _write_set(tmp_path, "webdataset", finish=False)
    layout = Layout(tmp_path, 1)
    assert not layout.tar(0).exists() and layout.partial_tar(0).exists()
    with GeneratedSet.open(tmp_path) as gset:
        assert gset.done_shards() == []
        assert [gset.read_bytes(Entry.parse(f)) for f in written] == list(written.values())


def test_a_missing_finished_tar_and_a_missing_member_are_named(tmp_path):
    written = _write_set(tmp_path, "webdataset")
    tar = Layout(tmp_path, 1).tar(0)
    members = {tar.name: {name for name, _, _ in image_members(tar)}}
    gset = GeneratedSet.open(tmp_path)
    gset.check_present(tar_members=members)  # all there
    lost = Entry.parse(next(iter(written)))
    with pytest.raises(DatasetError, match=rf"lacks 1 image\(s\) its metadata records \({lost}\)"):
        gset.check_present(tar_members={tar.name: members[tar.name] - {lost.member}})
    gset.check_present(
        tar_members={tar.name: members[tar.name] - {lost.member}}, dropped=frozenset({str(lost)})
    )
    with pytest.raises(
        DatasetError, match=r"missing 1 finished shard\(s\).*shard-00000-of-00001.tar \(3 images\)"
    ):
        gset.check_present(tar_members={})
    tar.unlink()
    with pytest.raises(DatasetError, match="shard .* is missing but .* records images in it"):
        gset.read_bytes(lost)


def test_a_missing_file_is_named_unless_dedup_dropped_it(tmp_path):
    written = _write_set(tmp_path, "imagefolder")
    lost, *kept = written
    gset = GeneratedSet.open(tmp_path)
    with pytest.raises(DatasetError, match=rf"lacks 1 image\(s\) its metadata records \({lost}\)"):
        gset.check_present(present=set(kept))
    gset.check_present(present=set(kept), dropped=frozenset({lost}))


@pytest.mark.parametrize("escape", ["../outside.png", "/etc/passwd", "tench_fish/../../outside.png"])
def test_a_record_that_leads_outside_the_set_is_never_read(tmp_path, escape):
    root = tmp_path / "gen"
    root.mkdir()
    _write_set(root, "imagefolder")
    (tmp_path / "outside.png").write_bytes(b"not ours")
    with GeneratedSet.open(root) as gset, pytest.raises(DatasetError, match="a path outside it"):
        gset.read_bytes(Entry.parse(escape))


def test_counts_come_from_the_done_marker_or_the_complete_lines(tmp_path):
    _write_set(tmp_path, "imagefolder", finish=False)
    layout = Layout(tmp_path, 1)
    with open(layout.jsonl(0), "ab") as f:
        f.write(b'{"file": "torn')  # a write cut off by a kill
    assert count_records(layout.jsonl(0)) == 3 == recorded_images(layout.jsonl(0), layout.done(0))
    assert len(read_records(layout.jsonl(0), repair=True)) == 3
    assert layout.jsonl(0).read_bytes().endswith(b"}\n")  # the torn line is cut off
    layout.done(0).write_text(json.dumps({"images": 5}))
    assert recorded_images(layout.jsonl(0), layout.done(0)) == 5
