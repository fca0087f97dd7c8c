"""--opset outside what the export supports (issue 28) is refused before any model loads, with the range.

Measured on the tiny model: opset 13 fails inside torch.onnx (scaled_dot_product_attention needs 14); 14 and
20 export and run on ONNX Runtime."""

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.engines.cache import OPSET_RANGE
from genrobust_fast.engines.onnx_build import check_opset, onnx_key
from genrobust_fast.engines.specs import Precision
from genrobust_fast.errors import InputError


@pytest.mark.parametrize("opset", ["1", "13", "21", "-17", "0"])
def test_an_opset_outside_the_range_is_refused_before_the_model_loads(tmp_path, opset):
    # The model folder does not exist: a refusal about the opset proves it came first.
    args = [
        "engine",
        "build",
        "--model",
        str(tmp_path / "no-model"),
        "--backend",
        "onnxruntime",
        "--opset",
        opset,
    ]
    result = CliRunner().invoke(cli, [*args, "--engine-dir", str(tmp_path / "engines")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"--opset {int(opset)} is not supported; the ONNX export works at opsets 14 to 20" in result.output
    assert not (tmp_path / "engines").exists()


def test_the_library_refuses_too_and_accepts_the_range():
    assert OPSET_RANGE == (14, 20)
    for opset in (14, 17, 20):
        assert check_opset(opset) == opset
    with pytest.raises(InputError, match="opsets 14 to 20"):
        onnx_key(None, "unet", Precision.FP32, opset=9)
    with pytest.raises(InputError, match="not supported"):
        check_opset(True)
