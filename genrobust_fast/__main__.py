"""`python -m genrobust_fast` is the same as the `genrobust` command."""

from .cli.main import cli

cli(prog_name="genrobust")
