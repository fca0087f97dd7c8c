"""The generation benchmark runs the tiny model as the generation tests do: with one torch thread."""

from ..generation.conftest import _few_threads  # noqa: F401 - an autouse fixture, shared, not copied
