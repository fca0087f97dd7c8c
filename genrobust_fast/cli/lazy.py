"""A click group whose subcommands are imported only when used (or listed by --help).

Keeps `genrobust --help` fast and independent of optional extras: each command module imports
torch, diffusers, DALI or DeepSpeed inside its functions, not at module level.
"""

from __future__ import annotations

import importlib
import importlib.util

import click


class LazyGroup(click.Group):
    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # name -> "package.module:attribute"
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx)) | {
            name for name in self.lazy_commands if self._importable(name)
        }
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _importable(self, name: str) -> bool:
        module_name = self.lazy_commands[name].split(":")[0]
        return importlib.util.find_spec(module_name) is not None

    def _load(self, name: str) -> click.Command | None:
        module_name, attr = self.lazy_commands[name].split(":")
        if importlib.util.find_spec(module_name) is None:
            return None
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attr} is not a click command")
        return command
