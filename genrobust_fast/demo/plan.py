"""The demo's plan: which `genrobust` commands it runs, in order, as a pure function of its settings.

Keeping the plan apart from running it lets a test check every command line without running one,
and lets `genrobust demo --dry-run` print the exact commands a user would type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .fashion_mnist import DEFAULT_ROOT
from .generator import SHIPPED_DIR
from .shifts import DERIVED_SHIFTS


@dataclass(frozen=True)
class DemoConfig:
    out: str = "demo-output"
    fashion_mnist: str = str(DEFAULT_ROOT)
    generator: str = str(SHIPPED_DIR)
    backend: str = "auto"
    # Real-only models of several sizes: the effective-robustness baseline is the line through them.
    real_per_class: tuple[int, ...] = (30, 100, 300)
    # The labelled subset that the real + generated models add generated images to (one of the above,
    # so the comparison with the real-only model on the same real images is in the table).
    mixed_real_per_class: int = 100
    generated_per_class: int = 100
    test_per_class: int = 100
    strategies: tuple[str, ...] = ("labels", "templates")
    steps: int = 15
    guidance: float = 3.0
    scheduler: str = "dpm++"
    gen_batch_size: int = 50
    arch: str = "resnet18"
    image_size: int = 32
    epochs: int = 8
    batch_size: int = 64
    lr: float = 0.05
    # Garments fill a centred 28-pixel square: ImageNet's 8 % crops would hide most of one.
    crop_scale: float = 0.35
    seed: int = 0

    @classmethod
    def quick(cls, **overrides) -> DemoConfig:
        """A miniature run for tests and a first look (a minute or two)."""
        values = {
            "real_per_class": (5, 10),
            "mixed_real_per_class": 10,
            "generated_per_class": 10,
            "test_per_class": 10,
            "steps": 4,
            "gen_batch_size": 20,
            "epochs": 10,
            "batch_size": 16,
            "strategies": ("labels",),
        }
        values.update(overrides)
        return cls(**values)

    def __post_init__(self) -> None:
        from ..errors import InputError

        if self.mixed_real_per_class not in self.real_per_class:
            raise InputError(
                f"mixed_real_per_class {self.mixed_real_per_class} must be one of the real-only sizes "
                f"{list(self.real_per_class)}, so the table holds the real-only model it adds to"
            )
        if len(set(self.real_per_class)) < 2:
            raise InputError(
                "real_per_class needs at least two sizes: the baseline is a line fitted through them"
            )


@dataclass(frozen=True)
class Step:
    name: str
    argv: tuple[str, ...]  # arguments after `genrobust`

    @property
    def command_line(self) -> str:
        import shlex

        return "genrobust " + " ".join(shlex.quote(a) for a in self.argv)


@dataclass(frozen=True)
class Layout:
    """Every path under the demo's one output folder."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def classes(self) -> Path:
        return self.data / "classes.tsv"

    def real(self, per_class: int) -> Path:
        return self.data / f"real-train-{per_class}"

    @property
    def tests(self) -> Path:
        return self.data / "test"

    @property
    def engines(self) -> Path:
        return self.root / "engines"

    def generated(self, strategy: str) -> Path:
        return self.root / "generated" / strategy

    def run(self, name: str) -> Path:
        return self.root / "runs" / name

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def fits(self) -> Path:
        return self.results / "baseline_fits.json"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def steps(self) -> Path:
        return self.root / "_steps"


def model_runs(cfg: DemoConfig) -> list[tuple[str, dict]]:
    """(run name, training data) for each classifier: real-only at each size, real + each generated set,
    and generated only. Real-only names start with `real-only` (the baseline fit selects them)."""
    mixed = cfg.mixed_real_per_class
    runs = [(f"real-only-{n}", {"real": n}) for n in sorted(cfg.real_per_class)]
    runs += [(f"real-{mixed}+gen-{s}", {"real": mixed, "generated": s}) for s in cfg.strategies]
    runs += [(f"gen-{s}-only", {"generated": s}) for s in cfg.strategies]
    return runs


def _shown(path: str) -> str:
    """A path as a user would type it: relative when it lies under the working folder."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def plan(cfg: DemoConfig) -> list[Step]:
    lay = Layout(Path(cfg.out))
    size = f"{cfg.image_size}x{cfg.image_size}"
    generator = _shown(cfg.generator)
    steps = []
    engine_backend = _engine_backend(cfg.backend)
    if engine_backend != "torch":  # the torch backend runs the model as is, nothing to build
        steps.append(
            Step(
                "engine",
                (
                    "engine",
                    "build",
                    "--model",
                    generator,
                    "--backend",
                    engine_backend,
                    "--size",
                    size,
                    "--batch",
                    f"1:{cfg.gen_batch_size}:{2 * cfg.gen_batch_size}",
                    "--engine-dir",
                    str(lay.engines),
                ),
            )
        )
    for strategy in cfg.strategies:
        steps.append(
            Step(
                f"generate-{strategy}",
                (
                    "generate",
                    "--model",
                    generator,
                    "--classes",
                    str(lay.classes),
                    "--per-class",
                    str(cfg.generated_per_class),
                    "--strategy",
                    strategy,
                    "--steps",
                    str(cfg.steps),
                    "--guidance",
                    str(cfg.guidance),
                    "--scheduler",
                    cfg.scheduler,
                    "--size",
                    size,
                    "--batch-size",
                    str(cfg.gen_batch_size),
                    "--backend",
                    cfg.backend,
                    "--engine-dir",
                    str(lay.engines),
                    "--format",
                    "imagefolder",
                    "--seed",
                    str(cfg.seed),
                    "--out",
                    str(lay.generated(strategy)),
                ),
            )
        )
    for name, data in model_runs(cfg):
        argv = ["train"]
        if "real" in data:
            argv += ["--real", str(lay.real(data["real"]))]
        if "generated" in data:
            argv += ["--generated", str(lay.generated(data["generated"]))]
            argv += ["--classes", str(lay.classes)] if "real" not in data else []
            argv += ["--generated-only"] if "real" not in data else ["--ratio", "1"]
        argv += [
            "--arch",
            cfg.arch,
            "--image-size",
            str(cfg.image_size),
            "--epochs",
            str(cfg.epochs),
            "--batch-size",
            str(cfg.batch_size),
            "--lr",
            str(cfg.lr),
            "--crop-scale",
            str(cfg.crop_scale),
            "--seed",
            str(cfg.seed),
            "--no-progress",
            "--out",
            str(lay.run(name)),
        ]
        steps.append(Step(f"train-{name}", tuple(argv)))
    benchmarks = [f"folder:fmnist-clean={lay.tests / 'clean'}"]
    benchmarks += [f"folder:fmnist-{s}={lay.tests / s}" for s in DERIVED_SHIFTS]
    for name, _ in model_runs(cfg):
        argv = ["eval", "--checkpoint", str(lay.run(name) / "model.safetensors"), "--name", name]
        for bench in benchmarks:
            argv += ["--benchmark", bench]
        for shift in DERIVED_SHIFTS:
            argv += ["--id-benchmark", f"fmnist-{shift}=fmnist-clean"]
        argv += ["--num-workers", "0", "--out", str(lay.results)]
        steps.append(Step(f"eval-{name}", tuple(argv)))
    results = str(lay.results / "results.jsonl")
    steps.append(
        Step("fit-baseline", ("fit-baseline", results, "--models", "real-only-*", "--out", str(lay.fits)))
    )
    steps.append(Step("report", ("report", results, "--baselines", str(lay.fits), "--out", str(lay.report))))
    return steps


def _engine_backend(backend: str) -> str:
    """`engine build` needs a concrete backend; auto: TensorRT on a GPU that has it, else ONNX Runtime."""
    if backend != "auto":
        return backend
    try:
        import importlib.util

        import torch

        if torch.cuda.is_available() and importlib.util.find_spec("tensorrt") is not None:
            return "tensorrt"
    except ImportError:
        pass
    return "onnxruntime"
