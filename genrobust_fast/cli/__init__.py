"""The `genrobust` command line: one module per command group, no logic beyond parsing."""
