"""Issue 28: the scan cache is validated on more than folder mtimes, and hostile trees (symlink loops,
line breaks in file names) are skipped with a warning naming the entry, never a traceback or a cache
that breaks later runs."""

import json
import logging
import os
import shutil

import pytest

from genrobust_fast.data import check_image_folder, scan_image_folder
from genrobust_fast.data.scan import index_dir

from .trees import CLASSES, age_tree, class_image, encode, real_tree


def _add_four_keeping_mtime(root, tmp_path):
    folder = root / CLASSES[1]
    st = folder.stat()
    for i in range(4):
        (folder / f"extra_{i}.png").write_bytes(encode(class_image(CLASSES[1], 50 + i), "PNG"))
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns))  # as tar does with the mtimes it stores


def _replace_folder_keeping_mtime(root, tmp_path):
    folder = root / CLASSES[2]
    st = folder.stat()
    shutil.move(folder, tmp_path / "old")
    folder.mkdir()
    (folder / "only.png").write_bytes(encode(class_image(CLASSES[2], 9), "PNG"))
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.utime(root, ns=(root.stat().st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("change", [_add_four_keeping_mtime, _replace_folder_keeping_mtime])
def test_scan_cache_sees_changes_that_keep_the_folder_mtime(tmp_path, change):
    root = real_tree(tmp_path / "real", per_class=4)
    age_tree(root)
    scan_image_folder(root)
    assert scan_image_folder(root).from_cache
    change(root, tmp_path)
    again = scan_image_folder(root)
    assert not again.from_cache and list(again) == list(scan_image_folder(root, use_cache=False))
    assert len(again) != 12


def _newline_name(root):
    path = root / CLASSES[0] / "two\nlines.png"
    path.write_bytes(encode(class_image(CLASSES[0], 7), "PNG"))
    return "two\\nlines.png"


def _class_folder_loop(root):
    os.symlink("loop", root / "loop")
    return "loop"


def _image_link_loop(root):
    os.symlink("self.jpg", root / CLASSES[1] / "self.jpg")
    return "self.jpg"


def _images_linked_in_a_cycle(root):
    os.symlink("b.jpg", root / CLASSES[2] / "a.jpg")
    os.symlink("a.jpg", root / CLASSES[2] / "b.jpg")
    return "a.jpg"


@pytest.mark.parametrize(
    "hostile", [_newline_name, _class_folder_loop, _image_link_loop, _images_linked_in_a_cycle]
)
def test_hostile_entries_are_skipped_with_a_warning_and_the_cache_stays_sound(tmp_path, caplog, hostile):
    root = real_tree(tmp_path / "real", per_class=2)
    named = hostile(root)
    age_tree(root)
    with caplog.at_level(logging.WARNING):
        first = scan_image_folder(root)
    assert len(first) == 6 and first.class_ids == CLASSES
    assert any(named in r.getMessage() and "skipping" in r.getMessage() for r in caplog.records)
    second = scan_image_folder(root)  # read back from the cache: the same six images
    assert second.from_cache and list(second) == list(first)
    cached = json.loads((index_dir(root) / "scan.json").read_text())["classes"]
    assert sum(len(joined.split("\n")) for joined in cached.values()) == 6
    report = check_image_folder(root, workers=1)
    assert report["images"] == 6 and report["bad"] == []


def test_folder_benchmarks_skip_symlink_loops(tmp_path, caplog):
    from genrobust_fast.evaluation import get_benchmark
    from genrobust_fast.evaluation.layouts import read_benchmark

    root = real_tree(tmp_path / "real", per_class=2)
    _class_folder_loop(root)
    _image_link_loop(root)
    with caplog.at_level(logging.WARNING):
        data = read_benchmark(get_benchmark("folder"), root)
    assert len(data.files) == 6
    assert any("self.jpg" in r.getMessage() for r in caplog.records)
