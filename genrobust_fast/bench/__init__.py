"""Benchmark logic behind `genrobust bench <area>`: each module checks correctness, then times, and
returns a JSON-ready dict (the CLI modules only parse options and print)."""
