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
from pathlib import Path
from typing import Any

from ..config import config_from_dict, config_to_dict, write_resolved_config
from ..data.loaders import choose_loader
from ..errors import DatasetError, JobConflictError
from ..fileio import atomic_write_json
from ..logs import info_until_accepted
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
    joined = init_distributed(device)
    try:
        if joined != (rank, world_size):  # a launcher bug, not user input
            raise RuntimeError(
                f"the process group made this rank {joined}, but RANK/WORLD_SIZE said {(rank, world_size)}"
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
    if not cfg.resume and latest_tag(out) is not None:
        raise JobConflictError(
            f"{out} already holds a training run (checkpoint {latest_tag(out)}); pass --resume to continue "
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


def _run(
    cfg: TrainConfig,
    data: TrainingData,
    device: str,
    rank: int,
    world_size: int,
    precision: str,
    ds_config: dict[str, Any],
) -> dict[str, Any]:
    import torch

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if not same_on_all_ranks([len(t) for t in data.tables] + [len(data.label_space)], device):
        raise DatasetError(
            "ranks see different datasets (image counts differ); give every node the same data and the same "
            "`genrobust data check` results (set GENROBUST_CACHE_DIR to a shared folder)"
        )
    steps_per_epoch = data.sampler.steps_per_epoch
    # The schedule always spans --epochs; --max-steps only stops early (a time-limited job that a later
    # --resume continues follows the same learning-rate curve as one uninterrupted run).
    schedule_steps = cfg.epochs * steps_per_epoch
    total_steps = min(schedule_steps, cfg.max_steps) if cfg.max_steps is not None else schedule_steps
    engine = _engine(cfg, data, precision, ds_config, schedule_steps)
    input_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)

    start_step = 0
    if cfg.resume:
        saved = load_checkpoint(engine, out)
        if saved is None:
            logger.info("--resume: no checkpoint in %s yet; starting from step 0", out)
        else:
            _check_resume_matches(saved, data, cfg, world_size)
            start_step = int(saved["global_step"])
            torch.set_rng_state(saved["torch_rng"])
    if rank == 0:
        write_resolved_config(cfg, out / "config.yaml")
        atomic_write_json(
            out / "run.json",
            {
                "label_space": data.label_space.to_json(),
                "recipe": data.recipe,
                "deepspeed": ds_config,
                "precision": precision,
                "world_size": world_size,
                "steps_per_epoch": steps_per_epoch,
                "total_steps": total_steps,
                "config": config_to_dict(cfg),
            },
        )

    loader = data.make_loader(device)
    log = MetricsLog(out, start_step, enabled=rank == 0, progress_total=total_steps, progress=cfg.progress)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    if rank == 0:
        logger.info(
            "training %s on %s: %d steps (%d per epoch), loader %s, precision %s, %d rank(s)",
            cfg.arch,
            device,
            total_steps,
            steps_per_epoch,
            loader.describe(),
            precision,
            world_size,
        )

    def client_state(step: int) -> dict[str, Any]:
        epoch, pos = divmod(step, steps_per_epoch)
        return {
            "global_step": step,
            "epoch": epoch,
            "step": pos,
            "plan": data.plan.describe(),
            "batch_size": cfg.batch_size,
            "world_size": world_size,
            "torch_rng": torch.get_rng_state(),
        }

    step, last_saved = start_step, start_step if start_step else None
    # The loss sum stays on the training device: reading it every step would wait for the GPU each time.
    window = {"steps": 0, "wait": 0.0, "total": 0.0, "loss": torch.zeros((), device=device)}
    totals = {"images": 0, "wait": 0.0, "total": 0.0}
    last_loss = None
    engine.train()
    try:
        epoch, pos = divmod(step, steps_per_epoch)
        while step < total_steps:
            batches = loader.epoch(epoch, pos)
            tick = time.perf_counter()
            for images, labels in batches:
                got_batch = time.perf_counter()
                logits = engine(images.to(input_dtype))
                loss = criterion(logits.float(), labels)
                engine.backward(loss)
                engine.step()
                step += 1
                done = time.perf_counter()
                window["steps"] += 1
                window["wait"] += got_batch - tick
                window["total"] += done - tick
                window["loss"] += loss.detach().float()
                totals["images"] += len(labels)
                totals["wait"] += got_batch - tick
                totals["total"] += done - tick
                if step % cfg.log_every == 0 or step == total_steps:  # absolute steps: resumed runs log alike
                    last_loss = float(window["loss"]) / window["steps"]
                    ips = window["steps"] * cfg.batch_size * world_size / max(window["total"], 1e-9)
                    wait = window["wait"] / max(window["total"], 1e-9)
                    log.log(
                        {
                            "step": step,
                            "epoch": round(step / steps_per_epoch, 4),
                            "loss": round(last_loss, 5),
                            "lr": engine.get_lr()[0],
                            "images_per_s": round(ips, 2),
                            "data_wait_fraction": round(wait, 4),
                        }
                    )
                    log.advance(window["steps"], ips, wait, last_loss)
                    window = {"steps": 0, "wait": 0.0, "total": 0.0, "loss": torch.zeros((), device=device)}
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total_steps:
                    save_checkpoint(engine, out, step, client_state(step))
                    last_saved = step
                if step >= total_steps:
                    break
                tick = time.perf_counter()
            batches.close()
            epoch, pos = epoch + 1, 0
        if last_saved != step:
            save_checkpoint(engine, out, step, client_state(step))
        model_path = export_classifier(
            engine, data.card(cfg, precision, world_size, step), out, rank, precision
        )
    finally:
        log.close()
        loader.close()
    images_per_s = totals["images"] * world_size / max(totals["total"], 1e-9)
    result = {
        "out": str(out),
        "model": str(model_path),
        "steps": step,
        "resumed_from": start_step,
        "epochs": round(step / steps_per_epoch, 4),
        "final_loss": last_loss,
        "precision": precision,
        "world_size": world_size,
        "loader": loader.describe(),
        "plan": data.plan.describe(),
        "images_per_s": round(images_per_s, 2),
        "data_wait_fraction": round(totals["wait"] / max(totals["total"], 1e-9), 4),
        "skipped_bad_files": data.skipped_bad,
        "alignment": data.alignment,
    }
    if rank == 0:
        atomic_write_json(out / "result.json", result)
    if step == start_step and cfg.resume:
        logger.info("run was already complete at step %d", step)
    return result
