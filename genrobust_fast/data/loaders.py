"""One batch contract for every loader, and `auto` selection.

Every loader has `steps_per_epoch`, `epoch(epoch, start_step)` yielding `(images, labels)` — images
NCHW float32 normalized on the training device, labels int64 on the same device — `describe()` and
`close()`. The training loop never asks which loader it has.

    loader = create_loader("auto", [real, generated], sampler, image_size=(224, 224), device="cuda:0")
    for images, labels in loader.epoch(0):
        ...
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from ..errors import BackendUnavailableError, InputError
from .loader_spec import LoaderSpec
from .sources import ImageTable

logger = logging.getLogger(__name__)

LOADERS = ("auto", "dali", "torch")


def choose_loader(kind: str, augment: str = "none") -> tuple[str, str]:
    """(loader, reason). `auto` prefers DALI when it can run and no torch-side augmentation is asked for."""
    from .dali_loader import dali_unavailable_reason

    if kind not in LOADERS:
        raise InputError(f"unknown loader {kind!r}; choose one of {', '.join(LOADERS)}")
    if kind == "torch":
        return "torch", "asked for with --loader torch"
    if kind == "dali":
        if augment != "none":
            raise InputError(f"--augment {augment} runs on the torch loader; use --loader torch (or auto)")
        reason = dali_unavailable_reason()
        if reason:
            raise BackendUnavailableError(f"--loader dali cannot run: {reason}; or pass --loader torch")
        return "dali", "asked for with --loader dali"
    if augment != "none":
        return "torch", f"--augment {augment} uses torchvision's implementation on the torch loader"
    reason = dali_unavailable_reason()
    if reason:
        return "torch", f"DALI unavailable ({reason})"
    return "dali", "DALI is installed and runs here"


def create_loader(
    kind: str,
    tables: Sequence[ImageTable],
    order,
    image_size: tuple[int, int],
    *,
    device: str = "cpu",
    workers: int | None = None,
    **spec_fields,
):
    """A loader over `tables` (real first, then generated) in the order given by `order`.

    `image_size` and `spec_fields` (LoaderSpec's other fields: train, augment, mean, std, seed,
    eval_resize, crop_scale) make the one LoaderSpec both loaders read. `workers`: decode processes for
    `torch` (0 = in this process), decode threads for `dali`; default: the CPUs this process may use.

    Example:
        create_loader("torch", [real_table], SequentialOrder(len(real_table), 64), (224, 224), train=False)
    """
    from .dali_loader import DaliLoader
    from .torch_loader import BatchBuilder, TableReader, TorchLoader

    spec = LoaderSpec(image_size, **spec_fields)
    chosen, reason = choose_loader(kind, spec.augment)
    logger.info("loader: %s (%s)", chosen, reason)
    budget = workers if workers is not None else max(1, len(os.sched_getaffinity(0)))
    reader = TableReader(tables)
    if chosen == "dali":
        return DaliLoader(reader, order, spec, device=device, threads=max(1, budget))
    # Worker processes build one batch each with a single-threaded kernel call; in-process, the kernel
    # may use every core.
    builder = BatchBuilder(reader, order, spec, kernel_threads=1 if budget > 0 else 0)
    return TorchLoader(builder, device=device, workers=budget)
