"""`genrobust generate --dedup` on a webdataset keeps its tars and lists the dropped members in
`_meta/dedup.json`; every reader (training tables, torch and DALI loaders, evaluation's generated layout,
`data check`, `data audit`) must leave those members out.

The set is made by the real CLI on the tiny model. `dedup_distance: 64` (every 64-bit hash is within 64
bits of every other) makes each class's later images duplicates of its first: a fixed, known drop list
that does not depend on what the tiny model happens to draw.
"""

import json
import tarfile

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from genrobust_fast.cli.main import cli
from genrobust_fast.data import SequentialOrder, check_image_folder, create_loader, generated_table
from genrobust_fast.labels import LabelSpace

from .trees import CLASSES, generated_set

PER_CLASS = 3


@pytest.fixture(scope="module")
def deduped(tmp_path_factory):
    root = tmp_path_factory.mktemp("dedup")
    (root / "classes.tsv").write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    (root / "gen.yaml").write_text("dedup_distance: 64\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = CliRunner().invoke(
            cli,
            [
                "generate",
                "--model",
                "tiny",
                "--classes",
                str(root / "classes.tsv"),
                "--per-class",
                str(PER_CLASS),
                "--steps",
                "2",
                "--backend",
                "torch",
                "--format",
                "webdataset",
                "--dedup",
                "--config",
                str(root / "gen.yaml"),
                "--out",
                str(root / "gen"),
                "--no-progress",
                "--json",
            ],
        )
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    out = root / "gen"
    dropped = {row["file"] for row in json.loads((out / "_meta" / "dedup.json").read_text())["dropped_files"]}
    shard = "shards/shard-00000-of-00001.tar"
    expected_dropped = {f"{shard}#{cid}_{i:07d}.jpg" for cid in ("n01440764", "n01443537") for i in (1, 2)}
    assert dropped == expected_dropped
    with tarfile.open(out / shard) as tar:  # the tar still holds every image: only readers can skip them
        members = {m.name: tar.extractfile(m).read() for m in tar if m.name.endswith(".jpg")}
    assert len(members) == 2 * PER_CLASS
    kept = {f"{cid}_0000000.jpg": members[f"{cid}_0000000.jpg"] for cid in ("n01440764", "n01443537")}
    return out, dropped, kept


def test_training_table_and_both_loaders_skip_the_dropped_members(deduped):
    out, _, kept = deduped
    space = LabelSpace.from_ids(("n01440764", "n01443537"))
    table, info = generated_table(out, space)
    assert len(table) == 2 and info["recipe"]["deduplicated_dropped"] == 4
    # Each entry's byte range is exactly its kept member: no duplicate, no shifted offset.
    assert sorted(table.read_bytes(i) for i in range(len(table))) == sorted(kept.values())
    assert sorted(table.labels.tolist()) == [0, 1]
    for kind in ("torch", "dali"):
        loader = create_loader(
            kind, [table], SequentialOrder(len(table), 2), (16, 16), train=False, workers=1
        )
        batches = list(loader.epoch(0))
        loader.close()
        assert len(batches) == loader.steps_per_epoch == 1
        images, labels = batches[0]
        assert images.shape == (2, 3, 16, 16) and sorted(labels.tolist()) == [0, 1]


def test_evaluation_reads_the_set_without_duplicates_and_calls_it_complete(deduped):
    from genrobust_fast.evaluation.layouts import read_benchmark
    from genrobust_fast.evaluation.registry import get_benchmark

    out, dropped, kept = deduped
    data = read_benchmark(get_benchmark("generated"), out)
    assert len(data) == 2 and sorted(data.targets) == [0, 1]
    assert sorted(p.rsplit("#", 1)[1] for p in data.paths) == sorted(kept)
    assert not {rel for rel, _ in data.files} & dropped
    assert data.expected_images == 2 and data.problems == []  # 6 generated - 4 dropped


def test_data_check_and_audit_see_only_the_kept_members(deduped, tmp_path):
    from genrobust_fast.generation.dedup import audit_generated

    out = deduped[0]
    report = check_image_folder(out, workers=1)
    assert (report["images"], report["readable"], report["dedup_dropped"]) == (2, 2, 4)
    assert report["per_class"] == {"n01440764": 1, "n01443537": 1} and report["bad"] == []
    bench = tmp_path / "bench" / "n01440764"
    bench.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(bench / "black.png")
    assert audit_generated(out, tmp_path / "bench")["generated"] == 2


def test_data_check_marks_a_broken_shard_member_and_training_skips_it(tmp_path):
    out = generated_set(tmp_path / "gen", per_class=2, fmt="webdataset")
    shard = out / "shards" / "shard-00000-of-00001.tar"
    with tarfile.open(shard) as tar:
        member = tar.getmember(f"{CLASSES[0]}_0000001.png")
    with open(shard, "r+b") as f:  # zero one PNG's signature and header: no decoder recognises it
        f.seek(member.offset_data)
        f.write(b"\0" * 32)
    report = check_image_folder(out, workers=1)
    assert report["bad"] == [f"shards/shard-00000-of-00001.tar#{CLASSES[0]}_0000001.png"]
    assert report["per_class"] == {CLASSES[0]: 1, CLASSES[1]: 2, CLASSES[2]: 2}
    table, _ = generated_table(out, LabelSpace.from_ids(CLASSES))
    assert len(table) == 5 and table.skipped_bad == 1
