"""`genrobust engine build/list/inspect/clean` through click, on the tiny model."""

import json

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-engines")
    result = CliRunner().invoke(
        cli,
        [
            "engine",
            "build",
            "--model",
            "tiny",
            "--backend",
            "onnxruntime",
            "--component",
            "unet",
            "--component",
            "vae_decoder",
            "--engine-dir",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    return root, result.output


def test_build_then_list_json(built):
    root, output = built
    assert "unet" in output and "vae_decoder" in output
    result = CliRunner().invoke(cli, ["engine", "list", "--json", "--engine-dir", str(root)])
    assert result.exit_code == 0, result.output
    engines = json.loads(result.stdout)["engines"]
    assert sorted(e["key"]["component"] for e in engines) == ["unet", "vae_decoder"]
    unet = next(e for e in engines if e["key"]["component"] == "unet")
    assert unet["key"]["onnx_opset"] == 17 and unet["key"]["precision"] == "fp32"
    assert len(unet["key"]["weights_sha256"]) == 64
    plain = CliRunner().invoke(cli, ["engine", "list", "--engine-dir", str(root)])
    assert "tiny" in plain.output and "opset 17" in plain.output


def test_inspect_shows_graph_and_verifies(built):
    root, _ = built
    result = CliRunner().invoke(
        cli, ["engine", "inspect", str(root / "tiny/onnx-fp32/unet.onnx"), "--verify"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["verified"] is True
    assert info["graph"]["inputs"]["sample"] == ["B2", 4, "h", "w"]


def test_bad_options_are_clean_errors(tmp_path):
    result = CliRunner().invoke(
        cli, ["engine", "build", "--model", "tiny", "--batch", "4:2:8", "--engine-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "MIN:OPT:MAX" in result.output
    result = CliRunner().invoke(
        cli, ["engine", "build", "--model", str(tmp_path / "nope"), "--engine-dir", str(tmp_path)]
    )
    assert (
        result.exit_code == 1
        and "InputError: model" in result.output
        and "neither a built-in" in result.output
    )
    result = CliRunner().invoke(
        cli, ["engine", "build", "--model", "tiny", "--backend", "tensorrt", "--engine-dir", str(tmp_path)]
    )
    assert result.exit_code == 1 and "BackendUnavailableError" in result.output


def test_clean_removes_one_model(built, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(built[0], root)
    dry = CliRunner().invoke(
        cli, ["engine", "clean", "--model", "tiny", "--dry-run", "--engine-dir", str(root)]
    )
    assert "would remove" in dry.output and (root / "tiny").exists()
    CliRunner().invoke(cli, ["engine", "clean", "--model", "tiny", "--engine-dir", str(root)])
    assert not (root / "tiny").exists()


def test_build_help_lists_the_families_and_their_built_in_twins():
    from genrobust_fast.engines.builtin import BUILTINS

    result = CliRunner().invoke(cli, ["engine", "build", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for family in ("sd1 Stable Diffusion 1.x", "sd2 Stable Diffusion 2.x", "sdxl SDXL", "few-step:"):
        assert family in text
    assert all(name in text for name in BUILTINS) and "--no-guidance" in text
    assert "[tiny-sdxl, sdxl-arch]" in text and "[tiny-sd2]" in text
