"""Configuration: frozen dataclass defaults, then a YAML file, then explicit CLI options.

    cfg = resolve_config(TrainConfig, yaml_path="exp.yaml", overrides={"epochs": 3, "lr": None})

`None` overrides are dropped, so a CLI option the user did not give never replaces a value from the
YAML file or the dataclass default. Unknown keys are errors that list the valid ones. The resolved
config is written next to every output with `write_resolved_config`.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError
from .fileio import atomic_write_text

T = TypeVar("T")


def load_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing YAML file to --config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text ({exc}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {str(path)!r} must hold a mapping of keys to values, got {type(data).__name__}"
        )
    return data


def config_from_dict(cls: type[T], data: Mapping[str, Any], *, source: str = "config") -> T:
    """Build dataclass `cls` from `data`, recursing into nested dataclass fields."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))} for {cls.__name__}; "
            f"valid keys are: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _coerce(hints[name], value, f"{source}.{name}")
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):  # YAML .nan/.inf, click's "nan"/"inf"
        raise ConfigError(f"{where}: {value} is not a finite number; give a finite value")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return config_from_dict(hint, value, source=where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: value {_shown(value)} does not match {hint}")
    if origin in (tuple, list) and isinstance(value, (list, tuple)):
        item = args[0] if args else Any
        items = [_coerce(item, v, where) for v in value]
        return tuple(items) if origin is tuple else items
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool, float) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {_shown(value)} ({type(value).__name__})")
    return value


def check_range(name: str, value: Any, interval: str, hint: str = "") -> None:
    """ConfigError unless `value` is a finite number in `interval`, written as in maths: "(0, 1]",
    "[0, inf)". NaN fails every comparison, so a check written `if lr <= 0: raise` lets it through; every
    numeric option is checked here instead.

    Example:
        check_range("lr", cfg.lr, "(0, inf)", "the peak learning rate")
    """
    low, high = (float(end) for end in interval[1:-1].split(","))
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low < value if interval[0] == "(" else low <= value)
        and (value < high if interval[-1] == ")" else value <= high)
    )
    if not ok:
        note = f" ({hint})" if hint else ""
        raise ConfigError(
            f"{name}={_shown(value)} is out of range; expected a finite value in {interval}{note}"
        )


_SHORT_REPR = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 2, 4, 4


def _shown(value: Any) -> str:
    """A bounded repr (at most ~200 characters, built without walking all of `value`): a YAML alias
    bomb expands to a structure whose full repr would be gigabytes."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def resolve_config(
    cls: type[T],
    yaml_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Defaults of `cls`, updated by the YAML file, updated by the non-None `overrides`."""
    base = config_to_dict(cls())
    if yaml_path is not None:
        base.update(load_yaml(yaml_path))
        source = str(yaml_path)
    else:
        source = cls.__name__
    for key, value in (overrides or {}).items():
        if value is not None:
            base[key] = value
    return config_from_dict(cls, base, source=source)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return _plain(dataclasses.asdict(cfg))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_resolved_config(cfg: Any, path: str | Path) -> None:
    import yaml

    atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=True))
