from dataclasses import dataclass, field

import pytest

from genrobust_fast.config import config_from_dict, config_to_dict, resolve_config, write_resolved_config
from genrobust_fast.errors import ConfigError


@dataclass(frozen=True)
class Optim:
    lr: float = 0.1
    momentum: float = 0.9


@dataclass(frozen=True)
class Run:
    epochs: int = 10
    arch: str = "resnet18"
    size: tuple[int, int] = (224, 224)
    note: str | None = None
    optim: Optim = field(default_factory=Optim)


def test_defaults_then_yaml_then_overrides(tmp_path):
    cfg_file = tmp_path / "exp.yaml"
    cfg_file.write_text("epochs: 3\narch: resnet50\noptim:\n  lr: 1\n")
    cfg = resolve_config(Run, cfg_file, {"epochs": 5, "arch": None})
    assert cfg.epochs == 5  # explicit option beats YAML
    assert cfg.arch == "resnet50"  # None override never replaces YAML
    assert cfg.optim == Optim(lr=1.0, momentum=0.9)  # int coerced to float, nested default kept
    assert isinstance(cfg.optim.lr, float)


def test_unknown_key_lists_valid_keys(tmp_path):
    cfg_file = tmp_path / "exp.yaml"
    cfg_file.write_text("epoch: 3\n")
    with pytest.raises(ConfigError) as err:
        resolve_config(Run, cfg_file)
    assert "'epoch'" in str(err.value) and "epochs" in str(err.value) and "arch" in str(err.value)


def test_wrong_type_is_an_error():
    with pytest.raises(ConfigError, match="expected int"):
        config_from_dict(Run, {"epochs": "ten"})
    with pytest.raises(ConfigError, match="expected int"):
        config_from_dict(Run, {"epochs": True})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(Run, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        resolve_config(Run, bad)


def test_resolved_config_round_trips(tmp_path):
    cfg = resolve_config(Run, overrides={"size": [32, 48], "note": "x"})
    assert cfg.size == (32, 48)
    write_resolved_config(cfg, tmp_path / "resolved.yaml")
    again = resolve_config(Run, tmp_path / "resolved.yaml")
    assert again == cfg
    assert config_to_dict(again)["optim"] == {"lr": 0.1, "momentum": 0.9}
