"""The DeepSpeed trainer behind `genrobust train`.

    result = train(TrainConfig(real="real/", generated="gen/", ratio=1.0, arch="resnet18",
                               epochs=2, batch_size=64, image_size=112, out="run/"))
    result["model"]  -> "run/model.safetensors" (with model.json for `genrobust eval`)

One process needs no launcher; `deepspeed --num_gpus N --module genrobust_fast train ...` or ranks
started with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT/LOCAL_RANK run data-parallel, each rank reading its
own slice of every global batch.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claim import refuse_changed
from ..config import config_from_dict, config_to_dict, write_resolved_config
from ..data.loaders import choose_loader
from ..errors import DatasetError, DivergedError, JobConflictError
from ..fileio import atomic_write_json
from ..logs import info_until_accepted
from ..outlock import lock_output
from ..paths import refuse_output_inside_inputs
from .checkpoints import export_classifier, install_safe_loading, latest_tag, load_checkpoint, save_checkpoint
from .config import TrainConfig, engine_config, load_deepspeed_config, resolve_precision
from .data_setup import TrainingData, prepare_data
from .distributed import (
    import_deepspeed,
    init_distributed,
    launcher_rank,
    pick_device,
    same_on_all_ranks,
    shutdown,
)
from .metrics import MetricsLog

logger = logging.getLogger(__name__)

_RENDEZVOUS_KEYS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def train(config: TrainConfig | Mapping[str, Any]) -> dict[str, Any]:
    """Train, checkpoint and export a classifier; returns a summary dict (same on every rank).

    Every input is checked before DeepSpeed is imported and before --out is created (the info lines of
    those checks are held back until they pass): a refused run prints only its error and leaves nothing.
    """
    cfg = config if isinstance(config, TrainConfig) else config_from_dict(TrainConfig, config)
    cfg.validate()
    with info_until_accepted():
        refuse_output_inside_inputs(cfg.out, {"--real": cfg.real, "--generated": cfg.generated})
        _refuse_finished_run(cfg)
        rank, world_size = launcher_rank()
        data = prepare_data(cfg, rank, world_size)
        choose_loader(cfg.loader, cfg.augment)
        ds_json = load_deepspeed_config(cfg.deepspeed_config)
        device = pick_device(cfg.device)
        precision = _precision(cfg, ds_json, device)
        ds_config = engine_config(ds_json, precision, cfg.batch_size, world_size)
    import torch.distributed as dist

    owns_group = not dist.is_initialized()
    # Without a launcher, init_distributed fills in a one-rank rendezvous; it is removed again afterwards
    # so a later train() call in the same process (a notebook, the demo) gets a fresh port.
    sets_env = "WORLD_SIZE" not in os.environ and "RANK" not in os.environ
    # One lock per rank: the ranks of one run share --out, a second run's rank k meets this run's rank k.
    with lock_output(cfg.out, f"train-rank{rank}"):
        joined = init_distributed(device)
        try:
            if joined != (rank, world_size):  # a launcher bug, not user input
                raise RuntimeError(
                    f"the process group made this rank {joined}, but RANK/WORLD_SIZE said "
                    f"{(rank, world_size)}"
                )
            return _run(cfg, data, device, rank, world_size, precision, ds_config)
        finally:
            if owns_group:
                shutdown()
            if sets_env:
                for key in _RENDEZVOUS_KEYS:
                    os.environ.pop(key, None)


def _refuse_finished_run(cfg: TrainConfig) -> None:
    out = Path(cfg.out)
    tag = latest_tag(out)  # also with --resume: a damaged tag is refused before DeepSpeed starts
    if not cfg.resume and tag is not None:
        raise JobConflictError(
            f"{out} already holds a training run (checkpoint {tag}); pass --resume to continue "
            "it or choose a new --out"
        )


def _precision(cfg: TrainConfig, ds_json: dict[str, Any], device: str) -> str:
    import torch

    bf16_ok = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    return resolve_precision(cfg.precision, ds_json, "cuda" if device.startswith("cuda") else "cpu", bf16_ok)


def _engine(
    cfg: TrainConfig, data: TrainingData, precision: str, ds_config: dict[str, Any], schedule_steps: int
):
    import torch

    from ..classifiers import create_classifier
    from .optim import build_optimizer, build_scheduler

    torch.manual_seed(cfg.seed)
    model = create_classifier(cfg.arch, len(data.label_space))
    optimizer = build_optimizer(model, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.nesterov)
    warmup = round(cfg.warmup_epochs * data.sampler.steps_per_epoch)
    scheduler = build_scheduler(optimizer, cfg.schedule, schedule_steps, warmup)
    engine, _, _, _ = import_deepspeed().initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config
    )
    install_safe_loading(engine)
    if precision in ("bf16", "fp16"):
        # DeepSpeed casts parameters only; norm layers' running statistics must match them (CPU kernels
        # refuse a bf16 weight with fp32 running stats).
        dtype = next(engine.module.parameters()).dtype
        for buffer in engine.module.buffers():
            if buffer.is_floating_point():
                buffer.data = buffer.data.to(dtype)
    return engine


def _check_resume_matches(
    saved: dict[str, Any], data: TrainingData, cfg: TrainConfig, world_size: int
) -> None:
    now = {"plan": data.plan.describe(), "batch_size": cfg.batch_size, "world_size": world_size}
    for key, value in now.items():
        if saved.get(key) != value:
            raise JobConflictError(
                f"cannot resume: the checkpoint was written with {key}={saved.get(key)!r} but this run has "
                f"{value!r}; resume with the same data, --batch-size and number of ranks, or use a new --out"
            )
    theirs, ours = saved.get("recipe"), cfg.recipe()
    if theirs is None:  # a checkpoint from before recipes were recorded: nothing to compare
        return
    refuse_changed(
        theirs,
        ours,
        fields=ours,  # this version's recipe: a field an older one recorded and this one dropped is no change
        held=f"cannot resume {str(cfg.out)!r}: its checkpoint was trained with other settings",
        advice="rerun with the original settings (see its config.yaml) to resume it, or train into a new "
        "--out",
    )


@dataclass(frozen=True)
class _Run:
    """What every step of one training run needs to know: its config, data, place among the ranks, and
    step counts. The schedule always spans --epochs; --max-steps only stops early (a time-limited job that
    a later --resume continues follows the same learning-rate curve as one uninterrupted run)."""

    cfg: TrainConfig
    data: TrainingData
    device: str
    rank: int
    world_size: int
    precision: str
    out: Path

    @property
    def steps_per_epoch(self) -> int:
        return self.data.sampler.steps_per_epoch

    @property
    def schedule_steps(self) -> int:
        return self.cfg.epochs * self.steps_per_epoch

    @property
    def total_steps(self) -> int:
        cap = self.cfg.max_steps
        return min(self.schedule_steps, cap) if cap is not None else self.schedule_steps

    def client_state(self, step: int) -> dict[str, Any]:
        """What a checkpoint stores beside the weights, so --resume can check and continue it."""
        import torch

        epoch, pos = divmod(step, self.steps_per_epoch)
        return {
            "global_step": step,
            "epoch": epoch,
            "step": pos,
            "plan": self.data.plan.describe(),
            "batch_size": self.cfg.batch_size,
            "world_size": self.world_size,
            "recipe": self.cfg.recipe(),
            "torch_rng": torch.get_rng_state(),
        }


def _run(
    cfg: TrainConfig,
    data: TrainingData,
    device: str,
    rank: int,
    world_size: int,
    precision: str,
    ds_config: dict[str, Any],
) -> dict[str, Any]:
    run = _Run(cfg, data, device, rank, world_size, precision, Path(cfg.out))
    run.out.mkdir(parents=True, exist_ok=True)
    _check_same_data_on_all_ranks(data, device)
    engine = _engine(cfg, data, precision, ds_config, run.schedule_steps)
    start_step = _resume(run, engine)
    if rank == 0:
        _write_run_record(run, ds_config)
    loader = data.make_loader(device)
    log = MetricsLog(
        run.out, start_step, enabled=rank == 0, progress_total=run.total_steps, progress=cfg.progress
    )
    if rank == 0:
        logger.info(
            "training %s on %s: %d steps (%d per epoch), loader %s, precision %s, %d rank(s)",
            cfg.arch,
            device,
            run.total_steps,
            run.steps_per_epoch,
            loader.describe(),
            precision,
            world_size,
        )
    try:
        step, last_loss, timings = _train_steps(run, engine, loader, log, start_step)
        card = data.card(cfg, precision, world_size, step)
        model_path = export_classifier(engine, card, run.out, rank, precision)
    finally:
        log.close()
        loader.close()
    result = _result(run, loader, model_path, start_step, step, last_loss, timings)
    if rank == 0:
        atomic_write_json(run.out / "result.json", result)
    if step == start_step and cfg.resume:
        logger.info("run was already complete at step %d", step)
    return result


def _check_same_data_on_all_ranks(data: TrainingData, device: str) -> None:
    if not same_on_all_ranks([len(t) for t in data.tables] + [len(data.label_space)], device):
        raise DatasetError(
            "ranks see different datasets (image counts differ); give every node the same data and the same "
            "`genrobust data check` results (set GENROBUST_CACHE_DIR to a shared folder)"
        )


def _resume(run: _Run, engine) -> int:
    """The step to start from: 0, or with --resume the step of the latest checkpoint (loaded into
    `engine`, with torch's RNG state), after checking it was written for this data and batch."""
    if not run.cfg.resume:
        return 0
    import torch

    saved = load_checkpoint(engine, run.out)
    if saved is None:
        logger.info("--resume: no checkpoint in %s yet; starting from step 0", run.out)
        return 0
    _check_resume_matches(saved, run.data, run.cfg, run.world_size)
    torch.set_rng_state(saved["torch_rng"])
    return int(saved["global_step"])


def _write_run_record(run: _Run, ds_config: dict[str, Any]) -> None:
    """config.yaml (the resolved config, rerunnable) and run.json (label space, data recipe, engine)."""
    write_resolved_config(run.cfg, run.out / "config.yaml")
    atomic_write_json(
        run.out / "run.json",
        {
            "label_space": run.data.label_space.to_json(),
            "recipe": run.data.recipe,
            "deepspeed": ds_config,
            "precision": run.precision,
            "world_size": run.world_size,
            "steps_per_epoch": run.steps_per_epoch,
            "total_steps": run.total_steps,
            "config": config_to_dict(run.cfg),
        },
    )


class _Timings:
    """Seconds spent waiting for batches and in all, images and (summed on the training device: reading
    it every step would wait for the GPU each time) the loss, per log window and for the whole run."""

    def __init__(self, device: str):
        self.device = device
        self.images, self.wait, self.total = 0, 0.0, 0.0
        self._open_window()

    def _open_window(self) -> None:
        import torch

        self.steps, self.window_wait, self.window_total = 0, 0.0, 0.0
        self.loss_sum = torch.zeros((), device=self.device)

    def add(self, images: int, wait: float, total: float, loss) -> None:
        self.steps += 1
        self.window_wait += wait
        self.window_total += total
        self.loss_sum += loss.detach().float()
        self.images += images
        self.wait += wait
        self.total += total

    def require_finite(self, step: int) -> None:
        """DivergedError on every rank when a loss of this window was NaN or inf on any (it stays in the
        sum). Checked where a log line or a checkpoint would record the broken model, not every step:
        reading the loss waits for the GPU. Agreed across ranks, so none is left waiting in a collective."""
        if self.steps == 0:  # the window a log line just closed was checked there (on every rank alike)
            return
        import torch
        import torch.distributed as dist

        finite = torch.isfinite(self.loss_sum).to(torch.int64)
        if dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if not finite.item():
            raise DivergedError(
                f"the training loss became NaN or inf (this rank's sum: {float(self.loss_sum)}) within the "
                f"{self.steps} step(s) up to step {step}; the model is no longer usable and nothing after "
                "the last checkpoint was saved. Lower --lr (or add --warmup-epochs) and train into a new "
                "--out"
            )

    def close_window(self, step: int, images_per_step: int) -> tuple[int, float, float, float]:
        """(steps, mean loss, images/s, data-wait fraction) of the window, then a new window."""
        self.require_finite(step)
        steps = self.steps
        loss = float(self.loss_sum) / steps
        ips = steps * images_per_step / max(self.window_total, 1e-9)
        wait = self.window_wait / max(self.window_total, 1e-9)
        self._open_window()
        return steps, loss, ips, wait


def _train_steps(run: _Run, engine, loader, log: MetricsLog, start_step: int):
    """Train from `start_step` to the last step, logging every --log-every steps and checkpointing every
    --checkpoint-every and at the end; returns (last step, last logged loss, timings)."""
    import torch

    cfg = run.cfg
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    input_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(run.precision, torch.float32)
    # Only the batches go NHWC: the convolutions then run NHWC (1.3x here) and the parameters keep the
    # default layout DeepSpeed needs (it views each one as flat bytes to broadcast it).
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    timings = _Timings(run.device)
    step, last_saved, last_loss = start_step, start_step if start_step else None, None
    engine.train()
    epoch, pos = divmod(step, run.steps_per_epoch)
    while step < run.total_steps:
        batches = loader.epoch(epoch, pos)
        tick = time.perf_counter()
        for images, labels in batches:
            got_batch = time.perf_counter()
            loss = criterion(engine(images.to(input_dtype, memory_format=layout)).float(), labels)
            engine.backward(loss)
            engine.step()
            step += 1
            timings.add(len(labels), got_batch - tick, time.perf_counter() - tick, loss)
            if step % cfg.log_every == 0 or step == run.total_steps:  # absolute steps: resumed runs log alike
                last_loss = _log_window(run, engine, log, timings, step)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < run.total_steps:
                timings.require_finite(step)
                save_checkpoint(engine, run.out, step, run.client_state(step))
                last_saved = step
            if step >= run.total_steps:
                break
            tick = time.perf_counter()
        batches.close()
        epoch, pos = epoch + 1, 0
    if last_saved != step:
        save_checkpoint(engine, run.out, step, run.client_state(step))
    return step, last_loss, timings


def _log_window(run: _Run, engine, log: MetricsLog, timings: _Timings, step: int) -> float:
    """One metrics row (CSV, progress bar) for the steps since the last; returns their mean loss."""
    steps, loss, ips, wait = timings.close_window(step, run.cfg.batch_size * run.world_size)
    log.log(
        {
            "step": step,
            "epoch": round(step / run.steps_per_epoch, 4),
            "loss": round(loss, 5),
            "lr": engine.get_lr()[0],
            "images_per_s": round(ips, 2),
            "data_wait_fraction": round(wait, 4),
        }
    )
    log.advance(steps, ips, wait, loss)
    return loss


def _result(run: _Run, loader, model_path, start_step: int, step: int, last_loss, timings: _Timings) -> dict:
    images_per_s = timings.images * run.world_size / max(timings.total, 1e-9)
    return {
        "out": str(run.out),
        "model": str(model_path),
        "steps": step,
        "resumed_from": start_step,
        "epochs": round(step / run.steps_per_epoch, 4),
        "final_loss": last_loss,
        "precision": run.precision,
        "world_size": run.world_size,
        "loader": loader.describe(),
        "plan": run.data.plan.describe(),
        "images_per_s": round(images_per_s, 2),
        "data_wait_fraction": round(timings.wait / max(timings.total, 1e-9), 4),
        "skipped_bad_files": run.data.skipped_bad,
        "alignment": run.data.alignment,
    }
