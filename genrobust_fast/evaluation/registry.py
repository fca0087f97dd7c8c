"""The shift-benchmark registry: what each benchmark is, how it is laid out, and how it is scored.

Each benchmark declares its classes (by WordNet id or folder id), the image count of a complete
download, the layout reader, the default class policy, the preprocessing quirks and the ID axis that
effective robustness measures it against. Add your own with `register_benchmark`:

    register_benchmark(folder_benchmark("fmnist-rotated", id_benchmark="fmnist-test"))
    spec = get_benchmark("imagenet-r")      # 200 classes, masked logits, ID axis val[imagenet-r]
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import InputError

CLASS_POLICIES = ("mask", "full")


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark. `classes` names a label set from genrobust_fast.labels, or None = read from data."""

    name: str
    layout: str  # wnid_folders | imagenet_val | index_folders | objectnet | imagenet_c | generated | folder
    classes: str | None = None
    expected_images: int | None = None
    # "card": resize the shorter side as the classifier card says; "none": only centre-crop
    # (ImageNet-C ships pre-cropped 224 px images and is scored without a resize).
    resize: str = "card"
    border_crop: int = 0  # pixels removed from each side before anything else (ObjectNet's red border)
    # The ID benchmark (or view) whose accuracy is the x axis of effective robustness; None = no ER.
    id_benchmark: str | None = None
    # Class-restricted views of this benchmark computed in the same pass (ImageNet val only).
    views: tuple[str, ...] = ()
    description: str = ""


IMAGENET_VAL = "imagenet-val"


def view_name(base: str, subset: str) -> str:
    """`imagenet-val[imagenet-r]`: `base` scored on `subset`'s classes only."""
    return f"{base}[{subset}]"


_BUILTIN = (
    BenchmarkSpec(
        IMAGENET_VAL,
        "imagenet_val",
        "imagenet",
        50_000,
        views=("imagenet-r", "imagenet-a", "objectnet"),
        description="ImageNet-1k validation: <wnid>/ folders, or a flat folder + devkit ground truth",
    ),
    BenchmarkSpec(
        "imagenet-v2",
        "index_folders",
        "imagenet",
        10_000,
        id_benchmark=IMAGENET_VAL,
        description="ImageNet-V2 matched-frequency; folders 0..999 are class indices",
    ),
    BenchmarkSpec(
        "imagenet-v2-matched-frequency",
        "index_folders",
        "imagenet",
        10_000,
        id_benchmark=IMAGENET_VAL,
        description="same as imagenet-v2",
    ),
    BenchmarkSpec(
        "imagenet-v2-threshold-0.7",
        "index_folders",
        "imagenet",
        10_000,
        id_benchmark=IMAGENET_VAL,
        description="ImageNet-V2 threshold-0.7 (no shipped ER fit)",
    ),
    BenchmarkSpec(
        "imagenet-v2-top-images",
        "index_folders",
        "imagenet",
        10_000,
        id_benchmark=IMAGENET_VAL,
        description="ImageNet-V2 top-images (no shipped ER fit)",
    ),
    BenchmarkSpec(
        "imagenet-sketch",
        "wnid_folders",
        "imagenet",
        50_889,
        id_benchmark=IMAGENET_VAL,
        description="ImageNet-Sketch: <wnid>/ folders",
    ),
    BenchmarkSpec(
        "imagenet-r",
        "wnid_folders",
        "imagenet_r",
        30_000,
        id_benchmark=view_name(IMAGENET_VAL, "imagenet-r"),
        description="ImageNet-R: 200 <wnid>/<rendition>_<n>.jpg folders, logits masked to 200",
    ),
    BenchmarkSpec(
        "imagenet-a",
        "wnid_folders",
        "imagenet_a",
        7_500,
        id_benchmark=view_name(IMAGENET_VAL, "imagenet-a"),
        description="ImageNet-A: 200 <wnid>/ folders, logits masked to 200",
    ),
    BenchmarkSpec(
        "objectnet",
        "objectnet",
        None,
        50_273,
        border_crop=2,
        id_benchmark=view_name(IMAGENET_VAL, "objectnet"),
        description="ObjectNet 1.0: images/<folder>/*.png + mappings/*.json; 113 classes overlap",
    ),
    BenchmarkSpec(
        "imagenet-c",
        "imagenet_c",
        "imagenet",
        3_750_000,
        resize="none",
        description="ImageNet-C: <corruption>/<severity>/<wnid>/; mCE normalised by AlexNet",
    ),
    BenchmarkSpec(
        "generated",
        "generated",
        None,
        None,
        description="a genrobust generated set (manifest.json): the ImageNet-G evaluation",
    ),
    BenchmarkSpec(
        "folder",
        "folder",
        None,
        None,
        description="any ImageFolder whose folder names are class ids (or mapped by --class-map)",
    ),
)

_REGISTRY: dict[str, BenchmarkSpec] = {spec.name: spec for spec in _BUILTIN}


def register_benchmark(spec: BenchmarkSpec, *, overwrite: bool = False) -> BenchmarkSpec:
    """Add a benchmark under `spec.name` (an existing name needs overwrite=True)."""
    if spec.name in _REGISTRY and not overwrite and _REGISTRY[spec.name] != spec:
        raise InputError(
            f"benchmark {spec.name!r} is already registered; pick another name or pass overwrite=True"
        )
    if "[" in spec.name or "=" in spec.name or ":" in spec.name:
        raise InputError(f"benchmark name {spec.name!r} may not contain '[', '=' or ':'")
    _REGISTRY[spec.name] = spec
    return spec


def folder_benchmark(
    name: str, *, id_benchmark: str | None = None, layout: str = "folder", expected_images: int | None = None
) -> BenchmarkSpec:
    """A custom ImageFolder (or generated-set) benchmark; `id_benchmark` pairs it with its ID axis.

    Example: register_benchmark(folder_benchmark("fmnist-blur", id_benchmark="fmnist-test"))
    """
    if layout not in ("folder", "generated"):
        raise InputError(f"custom benchmarks use layout 'folder' or 'generated', got {layout!r}")
    return BenchmarkSpec(
        name, layout, None, expected_images, id_benchmark=id_benchmark, description=f"user {layout} benchmark"
    )


def get_benchmark(name: str) -> BenchmarkSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(
            f"unknown benchmark {name!r}; known: {', '.join(sorted(_REGISTRY))}. For your own ImageFolder "
            f"use --benchmark folder:{name}=DIR (or generated:{name}=DIR for a generated set)"
        ) from None


def list_benchmarks() -> list[BenchmarkSpec]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def parse_benchmark_arg(text: str) -> tuple[BenchmarkSpec, str]:
    """`NAME=DIR`, or `folder:CUSTOM=DIR` / `generated:CUSTOM=DIR` for a custom-named benchmark."""
    name, sep, root = text.partition("=")
    if not sep or not name or not root:
        raise InputError(f"--benchmark expects NAME=DIR (e.g. imagenet-r=/data/imagenet-r), got {text!r}")
    kind, colon, custom = name.partition(":")
    if colon:
        if kind not in ("folder", "generated") or not custom:
            raise InputError(
                f"custom benchmarks are written folder:NAME=DIR or generated:NAME=DIR, got {text!r}"
            )
        existing = _REGISTRY.get(custom)
        spec = (
            existing
            if existing is not None and existing.layout == kind
            else folder_benchmark(custom, layout=kind)
        )
        return register_benchmark(spec, overwrite=True), root
    return get_benchmark(name), root


def with_pairing(spec: BenchmarkSpec, id_benchmark: str | None) -> BenchmarkSpec:
    """The same benchmark measured against another ID axis (recorded with every result)."""
    return spec if id_benchmark is None else replace(spec, id_benchmark=id_benchmark)
