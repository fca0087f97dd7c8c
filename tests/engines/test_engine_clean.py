"""`engine clean` deletes engine cache entries only, and refuses a folder that is not an engine cache."""

import os

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.engines.cache import EngineCache
from genrobust_fast.errors import InputError, JobConflictError
from genrobust_fast.outlock import lock_output


def _cache_with_user_files(root):
    cache = EngineCache(root)
    for slug, variant in (
        ("tiny", "onnx-fp32"),
        ("tiny", "tensorrt-fp16-b1-4-8_64x64"),
        ("sd15-ab", "onnx-fp16"),
    ):
        (cache.entry_dir(slug, variant) / "unet.onnx").parent.mkdir(parents=True, exist_ok=True)
        (cache.entry_dir(slug, variant) / "unet.onnx").write_bytes(b"x")
    # A failed build: its staging folder is gone, its lock file stays.
    cache.entry_dir("failed", "onnx-fp16").mkdir(parents=True)
    (cache.entry_dir("failed", "onnx-fp16") / ".genrobust-unet.lock").write_text("123\n")
    (root / "timing-caches").mkdir()
    (root / "timing-caches" / "trt-10.9-sm90.cache").write_bytes(b"t")
    (root / "timing-caches" / "notes.txt").write_text("mine")
    (root / "README.md").write_text("keep")
    (root / "notes.txt").write_text("mine")
    (root / "sd15-ab" / "my-config.yaml").write_text("mine")  # a user's file beside a model's engines
    (root / "src").mkdir()
    (root / "src" / "onnx-like").mkdir()  # a folder of folders that only looks alike: not a model folder
    (root / "src" / "onnx-like" / "notes.md").write_text("mine")
    return cache


def test_clean_removes_entries_and_keeps_everything_else(tmp_path):
    cache = _cache_with_user_files(tmp_path)
    removed = cache.clean()
    assert removed == sorted(
        [
            tmp_path / "failed",
            tmp_path / "tiny",
            tmp_path / "sd15-ab" / "onnx-fp16",
            tmp_path / "timing-caches" / "trt-10.9-sm90.cache",
        ]
    )
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == [
        "README.md",
        "notes.txt",
        "sd15-ab",
        "sd15-ab/my-config.yaml",
        "src",
        "src/onnx-like",
        "src/onnx-like/notes.md",
        "timing-caches",
        "timing-caches/notes.txt",
    ]


@pytest.mark.parametrize("layout", ["working-dir", "data-folder", "nested-cache"])
def test_a_folder_that_is_not_an_engine_cache_is_refused_and_left_whole(tmp_path, layout):
    root = tmp_path / "d"
    root.mkdir()
    if layout == "working-dir":  # a typo of `.`: the repository, whose engines/ is one level down
        (root / "README.md").write_text("x")
        (root / "pyproject.toml").write_text("x")
        EngineCache(root / "engines").entry_dir("tiny", "onnx-fp32").mkdir(parents=True)
    elif layout == "data-folder":
        (root / "n01440764").mkdir()
        (root / "n01440764" / "a.jpg").write_bytes(b"x")
    else:
        (root / "runs" / "a").mkdir(parents=True)
    before = sorted(root.rglob("*"))
    result = CliRunner().invoke(cli, ["engine", "clean", "--engine-dir", str(root)])
    assert result.exit_code == 1 and "is not an engine cache" in result.output
    assert "nothing in it is removed" in result.output
    assert sorted(root.rglob("*")) == before
    with pytest.raises(InputError, match="not an engine cache"):
        EngineCache(root).clean(dry_run=True)


@pytest.mark.parametrize("contents", [[], ["README.md"]])
def test_an_empty_cache_has_nothing_to_remove(tmp_path, contents):
    for name in contents:
        (tmp_path / name).write_text("x")
    result = CliRunner().invoke(cli, ["engine", "clean", "--engine-dir", str(tmp_path)])
    assert result.exit_code == 0 and "nothing to remove" in result.output


def test_two_builds_of_one_entry_do_not_run_at_once(tmp_path):
    from genrobust_fast.engines.models import load_components
    from genrobust_fast.engines.onnx_build import ensure_onnx, onnx_location
    from genrobust_fast.engines.specs import Precision

    tiny = load_components("tiny")
    entry = onnx_location(tiny, "text_encoder", Precision.FP32, tmp_path).parent
    # The lock stands in for a build in progress.
    with lock_output(entry, "text_encoder"), pytest.raises(JobConflictError, match=f"PID {os.getpid()}"):
        ensure_onnx(tiny, "text_encoder", Precision.FP32, tmp_path, build=True)
    assert ensure_onnx(tiny, "text_encoder", Precision.FP32, tmp_path, build=True).path.is_file()
