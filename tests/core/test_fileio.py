import hashlib

import pytest

from genrobust_fast.fileio import atomic_path, atomic_write_json, sha256_file


def test_atomic_write_leaves_no_partial_file_on_error(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_write_replaces_existing(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert target.read_text().strip().endswith("}")
    assert '"a": 2' in target.read_text()
    assert sha256_file(target) == hashlib.sha256(target.read_bytes()).hexdigest()


def test_atomic_files_get_the_mode_a_plain_open_gives(tmp_path):
    import os

    plain = tmp_path / "plain"
    plain.write_text("x")
    target = tmp_path / "atomic.json"
    atomic_write_json(target, {"a": 1})
    assert os.stat(target).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
