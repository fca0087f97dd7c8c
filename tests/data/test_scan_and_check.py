import json
import os

import pytest
from click.testing import CliRunner

from genrobust_fast.data import check_image_folder, scan_image_folder
from genrobust_fast.data.scan import index_dir
from genrobust_fast.errors import DatasetError
from genrobust_fast.labels import LabelSpace

from .trees import CLASSES, age_tree, class_image, encode, real_tree


def test_scan_lists_classes_in_label_space_order_and_ignores_other_entries(tmp_path):
    root = real_tree(tmp_path / "real", per_class=2)
    space = LabelSpace.from_ids(CLASSES[::-1])
    files = scan_image_folder(root, space)
    assert files.class_ids == CLASSES[::-1]
    assert [cid for _, cid in files] == [CLASSES[2]] * 2 + [CLASSES[1]] * 2 + [CLASSES[0]] * 2
    assert files[0] == (f"{CLASSES[2]}/{CLASSES[2]}_0.JPEG", CLASSES[2])
    assert files[-1] == (f"{CLASSES[0]}/{CLASSES[0]}_1.JPEG", CLASSES[0])
    assert not any("_private" in rel or "README" in rel for rel, _ in files)


def test_scan_rejects_class_folders_outside_the_label_space(tmp_path):
    root = real_tree(tmp_path / "real", per_class=1)
    with pytest.raises(DatasetError, match="not in the label space.*n02979186"):
        scan_image_folder(root, LabelSpace.from_ids(CLASSES[:2]))


def test_scan_cache_is_used_until_a_folder_changes(tmp_path):
    root = real_tree(tmp_path / "real", per_class=3)
    age_tree(root)
    first = scan_image_folder(root)
    assert not first.from_cache and (index_dir(root) / "scan.json").is_file()
    second = scan_image_folder(root)
    assert second.from_cache and list(second) == list(first)

    # Adding a file changes its folder's mtime: the cache is refreshed and sees it.
    (root / CLASSES[1] / "new.png").write_bytes(encode(class_image(CLASSES[1], 7), "PNG"))
    age_tree(root)
    third = scan_image_folder(root)
    assert not third.from_cache and len(third) == len(first) + 1
    assert (f"{CLASSES[1]}/new.png", CLASSES[1]) in list(third)

    # A folder touched just now (within the mtime tick) is never trusted from the cache.
    os.remove(root / CLASSES[0] / f"{CLASSES[0]}_0.JPEG")
    fourth = scan_image_folder(root)
    assert not fourth.from_cache and len(fourth) == len(first)
    assert not scan_image_folder(root).from_cache  # folder still "recent"


def test_cache_lives_outside_the_tree_so_torchvision_imagefolder_still_reads_it(tmp_path, monkeypatch):
    from torchvision.datasets import ImageFolder

    root = real_tree(tmp_path / "real", per_class=1)
    before = sorted(p.name for p in root.iterdir())
    monkeypatch.setenv("GENROBUST_CACHE_DIR", str(tmp_path / "cache"))
    scan_image_folder(root)
    check_image_folder(root, workers=1)
    assert sorted(p.name for p in root.iterdir()) == before
    assert (index_dir(root) / "scan.json").is_file() and str(index_dir(root)).startswith(
        str(tmp_path / "cache")
    )
    assert ImageFolder(str(root)).classes == ["_private", *CLASSES]  # torchvision's own quirk, not ours


def test_check_finds_truncated_and_empty_files_and_duplicates_and_training_skips_them(tmp_path):
    root = real_tree(tmp_path / "real", per_class=3, corrupt=True)
    (root / CLASSES[2] / "empty.jpg").write_bytes(b"")
    dup = (root / CLASSES[1] / f"{CLASSES[1]}_0.JPEG").read_bytes()
    (root / CLASSES[1] / "copy.jpg").write_bytes(dup)

    assert len(scan_image_folder(root)) == 12
    report = check_image_folder(root, workers=2)
    assert report["images"] == 12 and report["readable"] == 10
    assert sorted(report["bad"]) == sorted([f"{CLASSES[0]}/truncated.JPEG", f"{CLASSES[2]}/empty.jpg"])
    assert report["per_class"] == {CLASSES[0]: 3, CLASSES[1]: 4, CLASSES[2]: 3}
    assert [sorted(g) for g in report["duplicate_groups"]] == [
        [f"{CLASSES[1]}/copy.jpg", f"{CLASSES[1]}/{CLASSES[1]}_0.JPEG"]
    ]

    files = scan_image_folder(root)
    assert len(files) == 10 and files.skipped_bad == 2
    assert f"{CLASSES[0]}/truncated.JPEG" not in [rel for rel, _ in files]


def test_data_check_cli_prints_a_summary_and_json(tmp_path):
    from genrobust_fast.cli.main import cli

    root = real_tree(tmp_path / "real", per_class=2, corrupt=True)
    result = CliRunner().invoke(cli, ["data", "check", str(root)])
    assert result.exit_code == 0, result.output
    assert "7 images in 3 classes; 1 unreadable" in result.output
    assert "truncated.JPEG" in result.output
    result = CliRunner().invoke(cli, ["data", "check", str(root), "--json", "--strict"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["bad"] == [f"{CLASSES[0]}/truncated.JPEG"]
