"""A click group whose subcommands are imported only when used (or listed by --help).

Keeps `genrobust --help` fast and independent of optional extras: each command module imports
torch, diffusers, DALI or DeepSpeed inside its functions, not at module level.
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # name -> "package.module:attribute"
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Every registered name, importable or not: a missing module must fail loudly when used (a
        # packaging bug), not vanish from --help and read as "No such command".
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> click.Command:
        module_name, attr = self.lazy_commands[name].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module_name.startswith(exc.name):
                raise  # the command's module is there; something it imports is not: show that
            return _missing_command(name, module_name)
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attr} is not a click command")
        return command


def _missing_command(name: str, module_name: str) -> click.Command:
    """Stands in for a registered command whose module is not installed: listed, and loud when run."""
    message = (
        f"command {name!r} is registered but its module {module_name} is missing from this installation; "
        "reinstall genrobust-fast (pip install -e . in the repository)"
    )

    def fail() -> None:
        raise click.ClickException(message)

    return click.Command(name, callback=fail, help=message, short_help="(missing from this installation)")
