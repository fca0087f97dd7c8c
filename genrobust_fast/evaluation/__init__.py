"""Evaluation on natural distribution shifts: benchmark registry, class policies, metrics,
effective robustness, reports.

    from genrobust_fast.evaluation import load_eval_model, evaluate, BenchmarkRequest, get_benchmark
    model = load_eval_model(checkpoint="run/model.safetensors")
    evaluate(model, [BenchmarkRequest(get_benchmark("imagenet-r"), Path("/data/imagenet-r"))], "results/")
    write_report(read_results("results/results.jsonl"), "report/")

Import cost is small: torch and torchvision load inside the functions that need them.
"""

from .completeness import verify_benchmark
from .registry import (
    BenchmarkSpec,
    folder_benchmark,
    get_benchmark,
    list_benchmarks,
    parse_benchmark_arg,
    register_benchmark,
)

__all__ = [
    "BenchmarkRequest",
    "BenchmarkSpec",
    "EvalOptions",
    "effective_robustness",
    "evaluate",
    "fit_baselines",
    "folder_benchmark",
    "get_benchmark",
    "list_benchmarks",
    "load_baselines",
    "load_eval_model",
    "parse_benchmark_arg",
    "read_results",
    "register_benchmark",
    "select_fit",
    "verify_benchmark",
    "write_report",
]


def __getattr__(name: str):
    # Lazy: these pull in torch / matplotlib / scipy only when used.
    lazy = {
        "evaluate": ".runner",
        "EvalOptions": ".runner",
        "BenchmarkRequest": ".runner",
        "load_eval_model": ".models",
        "read_results": ".results",
        "write_report": ".report",
        "load_baselines": ".robustness",
        "fit_baselines": ".robustness",
        "effective_robustness": ".robustness",
        "select_fit": ".robustness",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name], __name__), name)
    raise AttributeError(name)
