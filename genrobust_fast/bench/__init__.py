"""Benchmark logic behind `genrobust bench <area>`: each module checks correctness, then times, and
returns a JSON-ready dict (genrobust_fast.cli.bench only parses options and prints)."""
