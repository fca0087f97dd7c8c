"""A full, read-only or forbidden output disk, and names too long for it (issue 28): every command says in
one line which path failed, what the errno means and what to do, and keeps the work finished before."""

import errno
import json

import pytest
from click.testing import CliRunner

from genrobust_fast.classifiers import ClassifierCard, Preprocessing, create_classifier, save_classifier
from genrobust_fast.cli.main import cli
from genrobust_fast.evaluation.results import ROW_FORMAT
from genrobust_fast.labels import LabelSpace
from tests.data.trees import CLASSES, real_tree
from tests.disk_faults import failing_disk

MEANINGS = {
    errno.ENOSPC: "no space left on the device (ENOSPC)",
    errno.EROFS: "the file system is read-only (EROFS)",
    errno.EACCES: "permission denied (EACCES)",
}


def _classes_file(tmp_path):
    path = tmp_path / "classes.tsv"
    path.write_text("".join(f"{c}\tclass {i}\n" for i, c in enumerate(CLASSES[:2])))
    return path


def _generate(tmp_path, out):
    return ["generate", "--classes", str(_classes_file(tmp_path)), "--per-class", "2", "--steps", "2"] + [
        "--size", "32x32", "--batch-size", "2", "--no-progress", "--out", str(out)
    ]  # fmt: skip


def _train(tmp_path, out):
    real = real_tree(tmp_path / "real", per_class=1)
    return ["train", "--real", str(real), "--arch", "cifar_resnet8", "--image-size", "32"] + [
        "--epochs", "1", "--batch-size", "3", "--loader", "torch", "--workers", "0", "--no-progress",
        "--out", str(out),
    ]  # fmt: skip


def _engine_build(tmp_path, out):
    return ["engine", "build", "--model", "tiny", "--backend", "onnxruntime", "--engine-dir", str(out)]


def _checkpoint(tmp_path):
    model = create_classifier("cifar_resnet8", len(CLASSES))
    card = ClassifierCard("cifar_resnet8", LabelSpace.from_ids(CLASSES), Preprocessing(resize=32, crop=32))
    return save_classifier(model, card, tmp_path / "model" / "model.safetensors")


def _eval(tmp_path, out):
    real = real_tree(tmp_path / "real", per_class=1)
    return ["eval", "--checkpoint", str(_checkpoint(tmp_path)), "--benchmark", f"folder:disk={real}"] + [
        "--device", "cpu", "--num-workers", "0", "--out", str(out)
    ]  # fmt: skip


def _result_row(model, bench, top1, id_benchmark=None):
    return {
        "format": ROW_FORMAT, "benchmark": bench, "base_benchmark": bench, "id_benchmark": id_benchmark,
        "model": {"name": model, "weights_sha256": model * 4, "num_classes": 10, "recipe": {}},
        "class_policy": "mask", "num_scored_classes": 10, "tta": "none", "n": 100,
        "metrics": {"top1": top1, "top5": 99.0, "top1_ci": [top1 - 2, top1 + 2], "ece": 3.0},
    }  # fmt: skip


def _results_file(tmp_path):
    rows = [_result_row("m", "imagenet-val", 70.0), _result_row("m", "imagenet-v2", 60.0, "imagenet-val")]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _report(tmp_path, out):
    return ["report", str(_results_file(tmp_path)), "--out", str(out)]


def _data_check(tmp_path, out):
    real = real_tree(tmp_path / "real", per_class=1)
    return ["data", "check", str(real), "--report", str(out / "check.json")]


def _finetune(tmp_path, out):
    from tests.finetune.test_finetune import write_real

    real = write_real(tmp_path / "real", per_class=1, size=16)
    return ["generator", "finetune", "--model", "tiny", "--real", str(real), "--steps", "2"] + [
        "--batch-size", "2", "--out", str(out)
    ]  # fmt: skip


COMMANDS = {
    "generate": _generate,
    "train": _train,
    "engine build": _engine_build,
    "eval": _eval,
    "report": _report,
    "data check": _data_check,
    "generator finetune": _finetune,
}


@pytest.mark.parametrize("code", list(MEANINGS), ids=lambda c: errno.errorcode[c])
@pytest.mark.parametrize("command", COMMANDS)
def test_an_unwritable_output_disk_is_one_line_naming_path_and_fix(tmp_path, monkeypatch, command, code):
    out = tmp_path / "out"
    args = COMMANDS[command](tmp_path, out)
    disk = failing_disk(monkeypatch, out, code)
    result = CliRunner().invoke(cli, args)
    assert disk.refused, "the command wrote nothing under its output folder"
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[-1]
    assert isinstance(result.exception, SystemExit), result.exception
    assert line.startswith("Error: OutputWriteError: cannot write ") and str(out) in line, line
    assert MEANINGS[code] in line and "rerun the same command" in line, line


def test_a_disk_filling_mid_generate_keeps_the_finished_images_and_the_rerun_completes(tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = _generate(tmp_path, out)
    args[args.index("--per-class") + 1] = "3"
    args += ["--writer-threads", "1"]  # images stored in order: which three are kept is known
    disk = failing_disk(monkeypatch, out, errno.ENOSPC, after=3, counting=lambda p: p.endswith(".jpg"))
    failed = CliRunner().invoke(cli, args)
    assert failed.exit_code == 1 and "no space left on the device (ENOSPC)" in failed.output, failed.output
    kept = {p: (p.stat().st_ino, p.read_bytes()) for p in out.glob("n*/*.jpg")}
    assert len(kept) == 3, sorted(kept)  # the images stored before the disk filled, renamed into place
    disk.after = 10**9  # space freed
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("n*/*.jpg"))) == 6
    assert {p: (p.stat().st_ino, p.read_bytes()) for p in kept} == kept  # finished work not redone
    lines = (out / "_meta" / "shard-00000-of-00001.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(r["file"] for r in records) == sorted(str(p.relative_to(out)) for p in out.glob("n*/*.jpg"))


def test_a_writer_without_an_errno_is_diagnosed_from_the_file_system(tmp_path, monkeypatch):
    # torch's C++ zip writer reports a full disk as RuntimeError("... file write failed"); the free space
    # of the disk it wrote to is what tells. torch.save fails as it does on a full disk (faked: no disk
    # here fills up), on a faked full file system.
    import os

    import torch

    from genrobust_fast.errors import OutputWriteError
    from genrobust_fast.writefail import writing

    real = os.statvfs(tmp_path)
    full = os.statvfs_result((*real[:3], 0, 0, real[5], 0, 0, *real[8:]))  # no free blocks or inodes
    monkeypatch.setattr(os, "statvfs", lambda path: full)
    target = tmp_path / "state.pt"

    def full_disk_save(obj, f):  # what torch's zip writer raises when a write(2) comes back short
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing "
                           "file data/0: file write failed")  # fmt: skip

    monkeypatch.setattr(torch, "save", full_disk_save)
    expected = r"state\.pt': no space left on the device \(ENOSPC\)"
    with pytest.raises(OutputWriteError, match=expected), writing(target):
        torch.save({"x": torch.zeros(2)}, str(target))
    with pytest.raises(FileNotFoundError), writing(target):  # an errno of its own is taken at its word
        open(tmp_path / "missing-folder" / "input.txt")  # noqa: SIM115
    monkeypatch.setattr(os, "statvfs", lambda path: real)  # a disk with room: the same error is a bug
    with pytest.raises(RuntimeError, match="file write failed"), writing(target):
        torch.save({"x": torch.zeros(2)}, str(target))


def test_a_rust_writers_errno_is_read_from_its_message(tmp_path):
    # safetensors (Rust) raises its own error type, "... File name too long (os error 36)": a real failure.
    import torch
    from safetensors.torch import save_file

    from genrobust_fast.errors import OutputWriteError
    from genrobust_fast.writefail import writing

    long_name = tmp_path / ("w" * 300 + ".safetensors")
    expected = r"longer than the file system allows \(255 bytes per name\).*312 bytes"
    with pytest.raises(OutputWriteError, match=expected), writing(long_name):
        save_file({"x": torch.zeros(2)}, str(long_name))
    missing = tmp_path / "no" / "w.safetensors"  # "(os error 2)": not a disk problem, not translated
    with pytest.raises(Exception, match="os error 2") as caught, writing(missing):
        save_file({"x": torch.zeros(2)}, str(missing))
    assert not isinstance(caught.value, OutputWriteError)


def test_an_optional_write_on_a_read_only_disk_is_still_tolerated(tmp_path, monkeypatch, caplog):
    # The scan cache only saves time: training a read-only tree (its cache folder read-only too) goes on.
    from genrobust_fast.data.scan import scan_image_folder

    cache = tmp_path / "cache"
    monkeypatch.setenv("GENROBUST_CACHE_DIR", str(cache))
    real = real_tree(tmp_path / "real", per_class=1)
    failing_disk(monkeypatch, cache, errno.EROFS)
    files = scan_image_folder(real)
    assert sum(len(names) for names in files.names) == len(CLASSES)
    assert "could not write scan cache" in caplog.text and "read-only (EROFS)" in caplog.text


@pytest.mark.parametrize("command", ["generate", "train", "report", "generator finetune"])
def test_an_output_that_is_a_dangling_link_is_named_as_one(tmp_path, command):
    # mkdir of a link to nowhere said "File exists", which names nothing wrong.
    out = tmp_path / "out"
    out.symlink_to(tmp_path / "nowhere")
    result = CliRunner().invoke(cli, COMMANDS[command](tmp_path, out))
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[-1]
    assert "is a symbolic link to" in line and "nowhere" in line and "remove the link" in line, line
    assert not (tmp_path / "nowhere").exists()
