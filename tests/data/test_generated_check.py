"""A generated set whose files or shards are gone is refused by name; `data audit` / `data check` on
damaged or webdataset sets answer with one line or read the shards."""

import io
import json
import tarfile

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.data import generated_table
from genrobust_fast.errors import DatasetError
from genrobust_fast.labels import LabelSpace

from .trees import CLASSES, generated_set, real_tree

SPACE = LabelSpace.from_ids(CLASSES)
SHARD = "shards/shard-00000-of-00001.tar"


def _one_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_recorded_file_that_is_gone_is_named(tmp_path):
    gen = generated_set(tmp_path / "gen", per_class=2)
    lost = f"{CLASSES[1]}/{CLASSES[1]}_0000001.png"
    (gen / lost).unlink()
    with pytest.raises(
        DatasetError,
        match=rf"lacks 1 image\(s\) its metadata records \({lost}\); rerun the "
        r"`genrobust generate` command",
    ):
        generated_table(gen, SPACE)
    # A file `generate --dedup` removed is listed in _meta/dedup.json: gone on purpose, not missing.
    (gen / "_meta" / "dedup.json").write_text(
        json.dumps({"dropped_files": [{"file": lost, "duplicate_of": "x"}]})
    )
    table, _ = generated_table(gen, SPACE)
    assert len(table) == 5


def test_a_deleted_shard_is_named_not_reported_as_missing_classes(tmp_path):
    gen = generated_set(tmp_path / "gen", per_class=2, fmt="webdataset")
    (gen / SHARD).unlink()
    with pytest.raises(
        DatasetError,
        match=rf"missing 1 finished shard\(s\) its metadata records: {SHARD} "
        r"\(6 images\); rerun the `genrobust generate`",
    ):
        generated_table(gen, SPACE)


def test_a_shard_rewritten_without_a_member_names_the_member(tmp_path):
    gen = generated_set(tmp_path / "gen", per_class=2, fmt="webdataset")
    dropped = f"{CLASSES[0]}_0000001.png"
    with tarfile.open(gen / SHARD) as src:
        members = [(m, src.extractfile(m).read()) for m in src if m.name != dropped]
    with tarfile.open(gen / SHARD, "w") as dst:
        for m, data in members:
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(DatasetError, match=rf"lacks 1 image\(s\) .*\({SHARD}#{dropped}\)"):
        generated_table(gen, SPACE)


def test_an_unfinished_webdataset_shard_is_a_partial_set_not_an_error(tmp_path):
    gen = generated_set(tmp_path / "gen", per_class=2, fmt="webdataset")
    (gen / "_meta" / "shard-00000-of-00001.done.json").unlink()
    (gen / SHARD).rename(gen / "shards" / ".shard-00000-of-00001.tar.partial")  # still being written
    with pytest.raises(
        DatasetError, match="no images of 3 training class"
    ):  # nothing finished yet: no shard named
        generated_table(gen, SPACE)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_data_audit_of_a_truncated_shard_is_one_line_naming_it(tmp_path):
    gen = generated_set(tmp_path / "gen", per_class=2, fmt="webdataset")
    bench = real_tree(tmp_path / "bench", per_class=1)
    _truncate(gen / SHARD)
    line = _one_line(
        CliRunner().invoke(cli, ["data", "audit", "--generated", str(gen), "--against", str(bench)])
    )
    assert f"shard {gen / SHARD} cannot be read" in line and "rerun the `genrobust generate` command" in line

    (gen / SHARD).unlink()
    line = _one_line(
        CliRunner().invoke(cli, ["data", "audit", "--generated", str(gen), "--against", str(bench)])
    )
    assert f"shard {gen / SHARD} is missing" in line


def test_data_check_reads_webdataset_shards(tmp_path):
    gen = generated_set(tmp_path / "gen", per_class=2, fmt="webdataset")
    result = CliRunner().invoke(cli, ["data", "check", str(gen), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["images"] == report["readable"] == 6
    assert report["per_class"] == {cid: 2 for cid in CLASSES} and report["empty_classes"] == []

    _truncate(gen / SHARD)
    line = _one_line(CliRunner().invoke(cli, ["data", "check", str(gen)]))
    assert f"shard {gen / SHARD} cannot be read" in line


def test_data_check_of_a_tree_without_images_is_an_error(tmp_path):
    (tmp_path / "tree" / "cls").mkdir(parents=True)
    line = _one_line(CliRunner().invoke(cli, ["data", "check", str(tmp_path / "tree")]))
    assert "holds no images" in line
