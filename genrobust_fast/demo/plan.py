"""The demo's plan: which `genrobust` commands it runs, in order, as a pure function of its settings.

Keeping the plan apart from running it lets a test check every command line without running one,
and lets `genrobust demo --dry-run` print the exact commands a user would type.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from .fashion_mnist import DEFAULT_ROOT, IMAGE_SIZE  # the generators' size (the data's files too)
from .generator import FINETUNED_DIR, SHIPPED_DIR
from .shift_benchmark import TEST_SHIFTS


@dataclass(frozen=True)
class GeneratedSet:
    name: str
    generator: str  # "base" or "finetuned"
    strategy: str  # "labels" (a photo of a {}) or "templates" (the renditions the generator knows)


# The sets the findings compare: (a) templates vs labels from the base generator, (b) base vs finetuned.
GENERATED_SETS = (
    GeneratedSet("base-labels", "base", "labels"),
    GeneratedSet("base-templates", "base", "templates"),
    GeneratedSet("finetuned-templates", "finetuned", "templates"),
)
# Finding (c)'s test set: the base generator's photos, which no real-only model trained on.
GENERATED_TEST_SET = "base-labels"
# The set the headline mixed model adds, and the amount finding varies.
MAIN_SET = "base-templates"
# --extended's "oracle": the mixed real photos themselves drawn in the generator's renditions (its own
# transforms, shifts.py), added like a generated set. Does the generator add more than its transforms?
ORACLE_SET = "oracle-renditions"


@dataclass(frozen=True)
class Model:
    """One classifier of the demo (trained once per seed)."""

    name: str
    real: int  # real images per class
    generated: str | None = None  # generated set added at ratio 1 (one generated image per real one)
    amount: int | None = None  # generated images per class it may draw (None: the whole set)
    augment: str | None = None  # `genrobust train --augment`
    epochs_factor: int = 1  # epochs = DemoConfig.epochs * this (2: the step count of a ratio-1 model)
    on_line: bool = False  # a real-only model of the effective-robustness baseline

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, False) and k != "name"}


@dataclass(frozen=True)
class DemoConfig:
    out: str = "demo-output"
    fashion_mnist: str = str(DEFAULT_ROOT)
    generator: str = str(SHIPPED_DIR)
    finetuned_generator: str = str(FINETUNED_DIR)
    backend: str = "auto"
    # Real-only models of several sizes: the effective-robustness baseline is the line through them.
    real_per_class: tuple[int, ...] = (15, 30, 100)
    # The labelled subset that the real + generated models add generated images to (one of the above,
    # so the comparison with the real-only model on the same real images is in the table).
    mixed_real_per_class: int = 30
    # Generated images per class in each set; the mixed models draw from all of them.
    generated_per_class: int = 30
    # Finding (e): the base-templates model at each of these pools (generated images per class), all at
    # ratio 1, so every one takes the same optimizer steps; the largest is the set itself.
    amounts: tuple[int, ...] = (8, 15, 30)
    # Finding (d): the mixed real subset with each augmentation instead of generated images.
    augmentations: tuple[str, ...] = ("randaugment", "augmix")
    test_per_class: int = 50
    # Every model is trained once per seed (init, batch order, augmentation); the real subsets and the
    # generated sets are the same for every seed.
    seeds: tuple[int, ...] = (0, 1, 2)
    generated_sets: tuple[GeneratedSet, ...] = GENERATED_SETS
    oracle: bool = False  # also train real + ORACLE_SET (no finding uses it; a row of the table)
    steps: int = 10
    guidance: float = 3.0
    scheduler: str = "dpm++"
    gen_batch_size: int = 50
    arch: str = "cifar_resnet8"
    # Fashion-MNIST's own 28 pixels: the 32-pixel files are padded by 2 for the generator's VAE, and the
    # evaluation's centre crop (28 of 32 after the 256/224 resize) is exactly the original image.
    image_size: int = 28
    epochs: int = 6
    # 25 divides every epoch (150, 300, 600, 1000 images), so a real-only model given twice the epochs
    # takes exactly the steps of a ratio-1 mixed model (step-matched controls).
    batch_size: int = 25
    lr: float = 0.05
    # Garments fill a centred 28-pixel square: ImageNet's 8 % crops would hide most of one.
    crop_scale: float = 0.35
    data_seed: int = 0  # the real subsets, the test subset, the shifts' noise and the generation seed

    @classmethod
    def quick(cls, **overrides) -> DemoConfig:
        """A miniature run for tests and a first look (a minute or two)."""
        values = {
            "real_per_class": (5, 10),
            "mixed_real_per_class": 10,
            "generated_per_class": 10,
            "amounts": (5, 10),
            "augmentations": ("randaugment",),
            "test_per_class": 10,
            "seeds": (0, 1),
            "steps": 4,
            "gen_batch_size": 20,
            "epochs": 8,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def extended(cls, **overrides) -> DemoConfig:
        """What the 10-minute budget of the default run leaves out: 5 seeds, 100 test images per
        class, 100 generated images per class (the main mixed model draws from all of them), a fourth
        amount and the oracle model (real + the generator's transforms of the same photos)."""
        values = {
            "seeds": (0, 1, 2, 3, 4),
            "test_per_class": 100,
            "generated_per_class": 100,
            "amounts": (8, 15, 30, 100),
            "oracle": True,
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
        if len(set(self.seeds)) < 2:
            raise InputError("seeds needs at least two distinct seeds: the error bars come from them")
        if len(set(self.amounts)) < 2 or max(self.amounts) != self.generated_per_class:
            raise InputError(
                f"amounts {list(self.amounts)} need at least two sizes, the largest equal to "
                f"generated_per_class {self.generated_per_class} (the main mixed model is that amount)"
            )

    def generator_path(self, which: str) -> str:
        return self.generator if which == "base" else self.finetuned_generator


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

    def oracle(self, per_class: int) -> Path:
        return self.data / f"{ORACLE_SET}-{per_class}"

    def generated(self, name: str) -> Path:
        return self.root / "generated" / name

    @property
    def templates(self) -> Path:
        return self.data / "templates.txt"

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


def models(cfg: DemoConfig) -> list[Model]:
    """Every classifier, in training order: the real-only models of the baseline line (names start with
    `real-only`, which `fit-baseline` selects), the step-matched real-only twin, the augmentation
    controls, the mixed subset plus each generated set, then the amounts of the main set."""
    mixed = cfg.mixed_real_per_class
    runs = [Model(f"real-only-{n}", n, on_line=True) for n in sorted(cfg.real_per_class)]
    # Ratio 1 doubles an epoch: with twice the epochs, these take the mixed models' optimizer steps.
    runs.append(Model(step_matched_model(cfg), mixed, epochs_factor=2))
    runs += [Model(f"real-{mixed}+{a}", mixed, augment=a, epochs_factor=2) for a in cfg.augmentations]
    runs += [Model(mixed_model(cfg, g.name), mixed, generated=g.name) for g in cfg.generated_sets]
    if cfg.oracle:
        runs.append(Model(mixed_model(cfg, ORACLE_SET), mixed, generated=ORACLE_SET))
    if MAIN_SET in {g.name for g in cfg.generated_sets}:
        runs += [
            Model(amount_model(cfg, n), mixed, generated=MAIN_SET, amount=n)
            for n in sorted(cfg.amounts)
            if n != cfg.generated_per_class
        ]
    return runs


def mixed_model(cfg: DemoConfig, generated_set: str) -> str:
    """The model trained on the mixed real subset plus `generated_set`, e.g. real-50+base-templates."""
    return f"real-{cfg.mixed_real_per_class}+{generated_set}"


def step_matched_model(cfg: DemoConfig) -> str:
    """The real-only model on the mixed subset trained for as many steps as the mixed models."""
    return f"real-{cfg.mixed_real_per_class}-2x-steps"


def amount_model(cfg: DemoConfig, per_class: int) -> str:
    """The main set's model at `per_class` generated images per class (the set's own size: the main one)."""
    if per_class == cfg.generated_per_class:
        return mixed_model(cfg, MAIN_SET)
    return f"{mixed_model(cfg, MAIN_SET)}-{per_class}pc"


def planned_steps(cfg: DemoConfig, model: Model) -> int:
    """Optimizer steps `genrobust train` will take: epochs x (epoch size // batch), the sampler's rule
    (a tail short of a batch is dropped; ratio 1 adds one generated image per real one)."""
    from .fashion_mnist import CLASSES

    real = model.real * len(CLASSES)
    epoch = real * (2 if model.generated else 1)
    return cfg.epochs * model.epochs_factor * (epoch // cfg.batch_size)


def run_name(model: str, seed: int) -> str:
    return f"{model}-s{seed}"


def model_of_run(run: str) -> tuple[str, int]:
    """run_name's inverse: ("real-only-30", 2) from "real-only-30-s2"."""
    model, _, seed = run.rpartition("-s")
    return model, int(seed)


def model_runs(cfg: DemoConfig) -> list[tuple[str, Model, int]]:
    """(run name, model, seed): every model once per seed, seed-major so a partial run has every model
    of its first seeds."""
    return [(run_name(m.name, seed), m, seed) for seed in cfg.seeds for m in models(cfg)]


def _shown(path: str) -> str:
    """A path as a user would type it: relative when it lies under the working folder."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def plan(cfg: DemoConfig) -> list[Step]:
    lay = Layout(Path(cfg.out))
    steps = (
        _engine_steps(cfg, lay) + _generate_steps(cfg, lay) + _train_steps(cfg, lay) + _eval_steps(cfg, lay)
    )
    results = str(lay.results / "results.jsonl")
    steps.append(
        Step("fit-baseline", ("fit-baseline", results, "--models", "real-only-*", "--out", str(lay.fits)))
    )
    steps.append(Step("report", ("report", results, "--baselines", str(lay.fits), "--out", str(lay.report))))
    return steps


def _generators_used(cfg: DemoConfig) -> list[str]:
    return sorted({g.generator for g in cfg.generated_sets})


def _engine_steps(cfg: DemoConfig, lay: Layout) -> list[Step]:
    backend = _engine_backend(cfg.backend)
    if backend == "torch":  # the torch backend runs the model as is, nothing to build
        return []
    size = f"{IMAGE_SIZE}x{IMAGE_SIZE}"
    return [
        Step(
            f"engine-{which}",
            (
                "engine",
                "build",
                "--model",
                _shown(cfg.generator_path(which)),
                "--backend",
                backend,
                "--size",
                size,
                "--batch",
                f"1:{cfg.gen_batch_size}:{2 * cfg.gen_batch_size}",
                "--engine-dir",
                str(lay.engines),
            ),
        )
        for which in _generators_used(cfg)
    ]


def _generate_steps(cfg: DemoConfig, lay: Layout) -> list[Step]:
    steps = []
    for g in cfg.generated_sets:
        argv = [
            "generate",
            "--model",
            _shown(cfg.generator_path(g.generator)),
            "--classes",
            str(lay.classes),
            "--per-class",
            str(cfg.generated_per_class),
            "--strategy",
            g.strategy,
        ]
        argv += ["--templates", str(lay.templates)] if g.strategy == "templates" else []
        argv += [
            "--steps",
            str(cfg.steps),
            "--guidance",
            str(cfg.guidance),
            "--scheduler",
            cfg.scheduler,
            "--size",
            f"{IMAGE_SIZE}x{IMAGE_SIZE}",
            "--batch-size",
            str(cfg.gen_batch_size),
            "--backend",
            cfg.backend,
            "--engine-dir",
            str(lay.engines),
            "--format",
            "imagefolder",
            "--seed",
            str(cfg.data_seed),
            "--out",
            str(lay.generated(g.name)),
        ]
        steps.append(Step(f"generate-{g.name}", tuple(argv)))
    return steps


def _train_steps(cfg: DemoConfig, lay: Layout) -> list[Step]:
    from .fashion_mnist import CLASSES

    steps = []
    for name, model, seed in model_runs(cfg):
        argv = ["train", "--real", str(lay.real(model.real))]
        if model.generated:
            added = (
                lay.oracle(model.real) if model.generated == ORACLE_SET else lay.generated(model.generated)
            )
            argv += ["--generated", str(added), "--ratio", "1"]
        if model.amount is not None:
            argv += ["--generated-count", str(model.amount * len(CLASSES))]
        if model.augment:
            # The augmentations run on the torch loader; its worker processes, forked from the demo's
            # one process (which holds ONNX Runtime and DALI threads), have hung at start, so these
            # runs decode in the training process.
            argv += ["--augment", model.augment, "--workers", "0"]
        argv += [
            "--arch",
            cfg.arch,
            "--image-size",
            str(cfg.image_size),
            "--epochs",
            str(cfg.epochs * model.epochs_factor),
            "--batch-size",
            str(cfg.batch_size),
            "--lr",
            str(cfg.lr),
            "--crop-scale",
            str(cfg.crop_scale),
            "--seed",
            str(seed),
            "--no-progress",
            "--out",
            str(lay.run(name)),
        ]
        steps.append(Step(f"train-{name}", tuple(argv)))
    return steps


def _eval_steps(cfg: DemoConfig, lay: Layout) -> list[Step]:
    benchmarks = [f"folder:fmnist-clean={lay.tests / 'clean'}"]
    benchmarks += [f"folder:fmnist-{s}={lay.tests / s}" for s in TEST_SHIFTS]
    generated_test = f"folder:fmnist-generated={lay.generated(GENERATED_TEST_SET)}"
    steps = []
    for name, model, _ in model_runs(cfg):
        argv = ["eval", "--checkpoint", str(lay.run(name) / "model.safetensors"), "--name", name]
        # Only models that never trained on it are scored on the generated test set.
        for bench in benchmarks + ([generated_test] if not model.generated else []):
            argv += ["--benchmark", bench]
        for shift in TEST_SHIFTS:
            argv += ["--id-benchmark", f"fmnist-{shift}=fmnist-clean"]
        argv += ["--num-workers", "0", "--out", str(lay.results)]
        steps.append(Step(f"eval-{name}", tuple(argv)))
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
