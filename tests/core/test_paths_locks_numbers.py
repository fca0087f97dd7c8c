"""The shared guards: paths read from our files stay inside their folder, one job per output folder, every
number finite and in range."""

import os
import subprocess
import sys
import time

import pytest

from genrobust_fast.config import check_range, resolve_config
from genrobust_fast.errors import ConfigError, DatasetError, InputError, JobConflictError
from genrobust_fast.outlock import lock_output, lock_path
from genrobust_fast.paths import contained, refuse_output_inside_inputs
from genrobust_fast.training import TrainConfig


@pytest.mark.parametrize(
    "relative, problem",
    [
        ("../x", "a path outside it"),
        ("a/../../x", "a path outside it"),
        ("/etc/passwd", "a path outside it"),
        (".", "a path outside it"),  # the folder itself: rmtree of it would empty it
        ("", "no path"),
        ("  ", "no path"),
        (None, "no path"),
        (["a"], "no path"),
        ("a\0b", "a NUL byte"),
        ("link/x", "a path outside it"),  # leaves through a symlink
    ],
)
def test_contained_refuses_paths_that_leave_their_folder(tmp_path, relative, problem):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(DatasetError, match="the file is damaged or was edited") as info:
        contained(root, relative, source=root / "state.json", fix="delete it")
    assert problem in str(info.value) and "state.json" in str(info.value) and "delete it" in str(info.value)


@pytest.mark.parametrize("relative", ["a", "a/b.png", "a/../b", "./a"])
def test_contained_keeps_paths_inside(tmp_path, relative):
    assert contained(tmp_path, relative, source="s", fix="f") == (tmp_path / relative).resolve()


@pytest.mark.parametrize("out, refused", [("real", True), ("real/sub", True), ("other", False)])
def test_an_output_equal_to_or_inside_an_input_is_refused(tmp_path, out, refused):
    (tmp_path / "real").mkdir()
    inputs = {"--real": str(tmp_path / "real"), "--model": "tiny", "--classes": None}
    if not refused:
        refuse_output_inside_inputs(tmp_path / out, inputs)
        return
    with pytest.raises(InputError, match="--real .* among its inputs; choose an --out outside"):
        refuse_output_inside_inputs(tmp_path / out, inputs)


HOLDER = """
import sys, time
from genrobust_fast.outlock import lock_output
with lock_output(sys.argv[1], "job"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_job_is_refused_naming_the_holder_and_a_killed_holder_leaves_no_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = pytest.raises(JobConflictError, match=f"in use by another job \\(PID {holder.pid}, lock ")
        with refused, lock_output(tmp_path, "job"):
            pass
        with lock_output(tmp_path, "other"):  # another name is another lock
            pass
    finally:
        holder.kill()
        holder.wait()
    with lock_output(tmp_path, "job") as path:  # SIGKILL released it
        assert path == lock_path(tmp_path, "job")
        assert path.read_text().strip() == str(os.getpid())


def test_a_lock_in_an_unwritable_folder_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    refused = pytest.raises(DatasetError, match="cannot create the lock file .*choose a writable output")
    with refused, lock_output(tmp_path / "file" / "sub", "job"):
        pass


def test_waiting_lock_blocks_until_free(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.replace("time.sleep(60)", "time.sleep(1)"), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    start = time.perf_counter()
    with lock_output(tmp_path, "job", wait=True):
        assert holder.poll() is not None or time.perf_counter() - start > 0.2
    holder.wait()


@pytest.mark.parametrize(
    "value, interval, ok",
    [
        (0.5, "(0, 1]", True),
        (1, "(0, 1]", True),
        (0, "(0, 1]", False),
        (0, "[0, 1)", True),
        (1.0, "[0, 1)", False),
        (float("nan"), "[0, inf)", False),  # `nan < 0` is False: the old checks let it through
        (float("inf"), "[0, inf)", False),
        (float("-inf"), "(-inf, inf)", False),
        (-5, "[0, 10]", False),
        (True, "[0, 10]", False),
        ("1", "[0, 10]", False),
    ],
)
def test_check_range(value, interval, ok):
    if ok:
        check_range("x", value, interval)
    else:
        with pytest.raises(ConfigError, match=r"x=.* is out of range; expected a finite value in "):
            check_range("x", value, interval)


@pytest.mark.parametrize("text", [".nan", ".inf", "-.inf"])
def test_yaml_non_finite_floats_are_refused_by_name(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(f"weight_decay: {text}\n")
    with pytest.raises(ConfigError, match=r"weight_decay: .* is not a finite number"):
        resolve_config(TrainConfig, path)


@pytest.mark.parametrize(
    "field, value",
    [
        ("lr", float("nan")),
        ("lr", 0.0),
        ("momentum", -3.0),
        ("momentum", float("nan")),
        ("weight_decay", float("nan")),
        ("weight_decay", -1.0),
        ("label_smoothing", 1.0),
        ("warmup_epochs", float("nan")),
        ("ratio", float("inf")),
        ("ratio", float("nan")),
        ("ratio", -1.0),
        ("seed", -5),
        ("workers", -1),
    ],
)
def test_train_config_refuses_each_bad_number(field, value):
    with pytest.raises(ConfigError, match=f"{field}=.* is out of range"):
        TrainConfig(real="r", out="o", **{field: value}).validate()


# 9 * 4**8 (590,000) leaves from a few hundred bytes; deeper bombs grow their full repr to gigabytes.
ALIAS_BOMB = "lr:\n  - &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  - &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 4)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"lr: [unclosed\n", "is not valid YAML"),
        (b"- a list\n", "must hold a mapping"),
        (b"lr: 0.1\xff\xfe\n", "is not UTF-8 text"),
        (ALIAS_BOMB.encode(), "lr: expected float, got \\[\\[.*\\.\\.\\.\\] \\(list\\)"),
    ],
)
def test_malformed_config_files_are_one_short_clear_error(tmp_path, content, match):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=match) as info:
        resolve_config(TrainConfig, path)
    assert len(str(info.value)) < 500  # the alias bomb's value is not spelled out


@pytest.mark.parametrize("content", ["[]", '"zero"', "not json", '{"fp16": 1} x'])
def test_a_deepspeed_config_that_is_not_a_json_object_is_refused(tmp_path, content):
    from genrobust_fast.training.config import load_deepspeed_config

    path = tmp_path / "ds.json"
    path.write_text(content)
    with pytest.raises(InputError, match="DeepSpeed config .*(not valid JSON|not a JSON object)"):
        load_deepspeed_config(str(path))
