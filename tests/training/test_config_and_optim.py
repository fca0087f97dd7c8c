import json
import math
from pathlib import Path

import pytest

from genrobust_fast.config import resolve_config
from genrobust_fast.errors import BackendUnavailableError, ConfigError, InputError
from genrobust_fast.training.config import (
    DEFAULT_DEEPSPEED_CONFIG,
    TrainConfig,
    engine_config,
    load_deepspeed_config,
    resolve_precision,
)
from genrobust_fast.training.optim import lr_factor_fn, parameter_groups

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_built_in_default_equals_the_shipped_zero1_json():
    assert json.loads((CONFIGS / "deepspeed_zero1.json").read_text()) == DEFAULT_DEEPSPEED_CONFIG


@pytest.mark.parametrize(
    "name, stage, bf16",
    [
        ("deepspeed_zero0.json", 0, False),
        ("deepspeed_zero1.json", 1, False),
        ("deepspeed_zero0_bf16.json", 0, True),
        ("deepspeed_zero1_bf16.json", 1, True),
    ],
)
def test_shipped_deepspeed_configs(name, stage, bf16):
    config = load_deepspeed_config(str(CONFIGS / name))
    assert config["zero_optimization"]["stage"] == stage and config["bf16"]["enabled"] is bf16
    assert resolve_precision("auto", config, "cpu", False) == ("bf16" if bf16 else "fp32")
    filled = engine_config(config, "fp32", batch_size=8, world_size=2)
    assert filled["train_batch_size"] == 16 and filled["train_micro_batch_size_per_gpu"] == 8


def test_paper_recipe_config_resolves():
    cfg = resolve_config(TrainConfig, CONFIGS / "train_paper_resnet50.yaml", {"real": "r", "out": "o"})
    assert (cfg.arch, cfg.ratio, cfg.label_smoothing, cfg.lr) == ("resnet50", 1.0, 0.1, 0.1)
    cfg.validate()


def test_precision_rules():
    assert resolve_precision("auto", {}, "cpu", False) == "fp32"
    assert resolve_precision("auto", {}, "cuda", True) == "bf16"
    assert resolve_precision("auto", {}, "cuda", False) == "fp16"
    with pytest.raises(BackendUnavailableError, match="fp16 training needs a GPU"):
        resolve_precision("fp16", {}, "cpu", False)


def test_deepspeed_json_must_not_set_the_optimizer(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"optimizer": {"type": "Adam"}}))
    with pytest.raises(InputError, match="sets 'optimizer'"):
        load_deepspeed_config(str(path))


def test_invalid_train_configs_are_explained():
    with pytest.raises(ConfigError, match="pass --out"):
        TrainConfig(real="r").validate()
    with pytest.raises(ConfigError, match="--generated-only needs --generated"):
        TrainConfig(real="r", out="o", generated_only=True).validate()
    with pytest.raises(ConfigError, match="crop_scale is the smallest crop area"):
        TrainConfig(real="r", out="o", crop_scale=0.0).validate()
    with pytest.raises(ConfigError, match="unknown key"):
        resolve_config(TrainConfig, None, {"ratoi": 1.0})


def test_no_weight_decay_on_norm_layers_and_biases():
    from genrobust_fast.classifiers import create_classifier

    model = create_classifier("resnet18", num_classes=3)
    decay, no_decay = parameter_groups(model, 1e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].endswith("weight") and p.ndim > 1 for p in decay["params"])
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert (
        "bn1.weight" in no_decay_names and "fc.bias" in no_decay_names and "fc.weight" not in no_decay_names
    )
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 1e-4


def test_warmup_then_cosine_or_linear():
    cosine = lr_factor_fn("cosine", total_steps=110, warmup_steps=10)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(10) == pytest.approx(1.0) and cosine(60) == pytest.approx(0.5)
    assert cosine(109) == pytest.approx(0.5 * (1 + math.cos(math.pi * 99 / 100)))
    linear = lr_factor_fn("linear", total_steps=100, warmup_steps=0)
    assert linear(0) == 1.0 and linear(50) == pytest.approx(0.5)


def test_one_rank_runs_zero_1_and_2_as_stage_0_and_more_ranks_keep_them():
    from genrobust_fast.training.config import DEFAULT_DEEPSPEED_CONFIG, engine_config

    for stage in (1, 2):
        ds = {**DEFAULT_DEEPSPEED_CONFIG, "zero_optimization": {"stage": stage}}
        assert engine_config(ds, "fp32", 16, world_size=1)["zero_optimization"]["stage"] == 0
        assert engine_config(ds, "fp32", 16, world_size=2)["zero_optimization"]["stage"] == stage
    ds3 = {**DEFAULT_DEEPSPEED_CONFIG, "zero_optimization": {"stage": 3}}
    assert engine_config(ds3, "fp32", 16, world_size=1)["zero_optimization"]["stage"] == 3
