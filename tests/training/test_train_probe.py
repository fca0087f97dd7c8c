"""Numbers the second probe of issue 28 found: finite, yet past what the fp32 optimizers hold
(`train --lr 1e308` was a RuntimeError traceback from DeepSpeed's optimizer); up to fp32's largest value they
are accepted (a 1e30 rate diverges into the one-line DivergedError)."""

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.errors import ConfigError
from genrobust_fast.finetune.config import FinetuneConfig
from genrobust_fast.training import TrainConfig
from tests.data.trees import real_tree


@pytest.mark.parametrize(("field", "value"), [("lr", 1e308), ("lr", 1e39), ("weight_decay", 1e39)])
def test_huge_optimizer_numbers_are_refused_by_both_configs(field, value):
    with pytest.raises(
        ConfigError, match=f"{field}=.* is out of range; expected a finite value in .*3.4e38]"
    ):
        TrainConfig(real="r", out="o", **{field: value}).validate()
    with pytest.raises(ConfigError, match=f"{field}=.* is out of range"):
        FinetuneConfig(**{field: value})
    TrainConfig(real="r", out="o", **{field: 1e30}).validate()  # huge, but fp32 holds it


def test_lr_1e308_on_the_command_line_is_one_line(tmp_path):
    real = real_tree(tmp_path / "real", per_class=1)
    result = CliRunner().invoke(
        cli, ["train", "--real", str(real), "--lr", "1e308", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "lr=1e+308 is out of range" in result.output and not (tmp_path / "r").exists()
