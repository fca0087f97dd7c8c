"""Every `[default: X]` in the help of a command driven by a config dataclass is the dataclass's own
default: options default to None (so a --config file's values stand), so click cannot show the default
and the help must not drift from the code (generate's help once claimed 100 per class and 10 epochs)."""

import dataclasses
import re

import click
import pytest

from genrobust_fast.cli.generate import generate
from genrobust_fast.cli.generator import finetune
from genrobust_fast.cli.options import shown_default
from genrobust_fast.cli.train import train
from genrobust_fast.finetune.config import FinetuneConfig
from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.training.config import TrainConfig

COMMANDS = [(generate, GenerateConfig), (train, TrainConfig), (finetune, FinetuneConfig)]
DEFAULT = re.compile(r"\[default: ([^\]]*)\]")


def _field_options(command: click.Command, config_cls: type):
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    for param in command.params:
        if isinstance(param, click.Option) and param.name in fields:
            yield param, fields[param.name]


LITERAL = re.compile(r"[\w.+-]+")  # a value as written ("50", "7.5", "on", "pndm"), not a description


@pytest.mark.parametrize(("command", "config_cls"), COMMANDS, ids=lambda c: getattr(c, "name", None))
def test_every_stated_default_is_the_configs(command, config_cls):
    checked = 0
    for option, field in _field_options(command, config_cls):
        stated = DEFAULT.findall(option.help or "")
        code = field.default if field.default is not dataclasses.MISSING else None
        if stated and LITERAL.fullmatch(stated[0]):
            assert stated[0] == shown_default(code), (
                f"--{option.name}: help says [default: {stated[0]}], the code's default is {code!r}"
            )
            checked += 1
        elif not stated and not option.required and not option.is_flag:
            # a value the code fills in must be shown; None/""/0 sentinels are described in words
            assert code in (None, "", 0) or isinstance(code, tuple), f"--{option.name}: no [default: {code}]"
    assert checked >= 5  # the test reads the options it means to (a renamed field would drop out)


def test_the_options_feed_the_configs_fields():
    """Each command passes its options to the config by field name (`**options`): an option whose name is
    not a field would be an unexpected keyword, so the names are the contract this checks."""
    known_extra = {
        "generate": {"dry_run", "show_shard", "verify_outputs", "verify_n", "as_json", "no_progress"},
        "train": {"as_json", "local_rank"},
        "finetune": set(),
    }
    for command, config_cls in COMMANDS:
        fields = {f.name for f in dataclasses.fields(config_cls)}
        names = {p.name for p in command.params if isinstance(p, click.Option)} - {"config_path"}
        assert names - fields <= known_extra[command.name], names - fields - known_extra[command.name]
