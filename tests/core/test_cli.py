import importlib.util
import json
import subprocess
import sys

from click.testing import CliRunner

from genrobust_fast.cli.main import cli


def test_help_lists_command_groups():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in ("info", "bench", "engine", "generate", "train", "eval", "report"):
        assert name in result.output


def test_info_json_reports_every_library():
    result = CliRunner().invoke(cli, ["info", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    libs = report["libraries"]
    assert libs["torch"]["available"] and libs["onnxruntime"]["available"]
    # Reported either way, never a crash: a version where it imports (GPU machines), else the fix.
    trt = libs["tensorrt"]
    if importlib.util.find_spec("tensorrt") is None:
        assert not trt["available"]
    assert trt["version"] if trt["available"] else "genrobust-fast[tensorrt]" in trt["fix"]
    assert report["kernels"]["implementation"] in ("native", "reference")


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from click.testing import CliRunner; from genrobust_fast.cli.main import cli;r = "
        "CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output;heavy = [m for m in "
        "('torch', 'diffusers', 'deepspeed', 'nvidia.dali', 'onnxruntime') if m in "
        "sys.modules];print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"--help imported {out.stdout.strip()}"


def test_library_errors_become_one_clean_line():
    import click

    from genrobust_fast.cli.main import GenrobustGroup
    from genrobust_fast.errors import InputError

    @click.group(cls=GenrobustGroup)
    def group():
        pass

    @group.command()
    def broken():
        raise InputError("folder 'x' is empty; pass a folder of images")

    result = CliRunner().invoke(group, ["broken"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: InputError: folder 'x' is empty; pass a folder of images"


def test_an_error_raised_in_a_dataloader_worker_is_its_own_one_line_message():
    import click
    import torch

    from genrobust_fast.cli.main import GenrobustGroup
    from genrobust_fast.errors import DatasetError

    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            try:
                raise OSError("image file is truncated")
            except OSError as exc:  # chained, as the loaders raise it: the message is still the last line
                raise DatasetError(
                    f"real/n01440764/bad.JPEG cannot be decoded ({exc}); run `genrobust data "
                    "check real/` to skip it"
                ) from exc

    @click.group(cls=GenrobustGroup)
    def group():
        pass

    @group.command()
    def load():
        for _ in torch.utils.data.DataLoader(Broken(), num_workers=1):
            pass

    result = CliRunner().invoke(group, ["load"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: DatasetError: real/n01440764/bad.JPEG cannot be decoded (image file is "
        "truncated); run `genrobust data check real/` to skip it"
    )


def test_a_registered_command_whose_module_is_missing_is_listed_and_fails_loudly():
    import click

    from genrobust_fast.cli.lazy import LazyGroup

    group = LazyGroup(
        "g",
        lazy_commands={
            "ghost": "genrobust_fast.cli.no_such_module:cmd",
            "info": "genrobust_fast.cli.info:info",
        },
    )
    listed = CliRunner().invoke(group, ["--help"])
    assert "ghost" in listed.output and "info" in listed.output
    result = CliRunner().invoke(group, ["ghost"])
    assert result.exit_code == 1 and "is registered but its module" in result.output
    assert isinstance(group.get_command(click.Context(group), "info"), click.Command)
