"""The finetuning loop: MSE on the UNet's prediction (noise, or v for v-prediction models), the rest frozen;
SD 1.x, 2.x and SDXL (whose UNet also gets the pooled caption embedding and the time ids). Distilled
few-step models (LCM, SD-/SDXL-Turbo) are refused: this loss would undo their distillation. Dropped
captions train the unconditional input generation samples with (zeros for SDXL), and latents are mapped
to the UNet's space by the rule generation decodes with (engines/latent_space.py).

Every random draw of step k (batch order, captions, caption dropout, noise, timesteps, VAE posterior
sample) comes from generators seeded with (seed, k), so a run resumed from a checkpoint at step k
continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..claim import jsonable, read_identity, refuse_changed
from ..config import config_to_dict
from ..engines.latent_space import to_unet_latents
from ..errors import ConfigError, DivergedError, InputError, JobConflictError
from ..fileio import atomic_write_json
from ..outlock import lock_output
from ..paths import refuse_output_inside_inputs
from .checkpoint import load_state, save_state
from .config import FinetuneConfig
from .data import CaptionedImages

log = logging.getLogger(__name__)

WORK_DIR = "_finetune"
RESULT_FILE = "finetune.json"


def finetune_generator(cfg: FinetuneConfig) -> Path:
    """Train the UNet of `cfg.model` on `cfg.real` and write a diffusers folder to `cfg.out`.

    Example:
        finetune_generator(FinetuneConfig(model="tiny", real="real/", out="ft/", steps=50, batch_size=8))
    Rerunning a finished job returns at once; rerunning a killed one resumes from its last checkpoint.
    """
    cfg.require_paths()
    refuse_output_inside_inputs(cfg.out, {"--real": cfg.real, "--model": cfg.model})
    out, work = Path(cfg.out), Path(cfg.out) / WORK_DIR
    if _already_finished(out, cfg):
        log.info("%s already holds this finetuning job's result; nothing to do", out)
        return out
    _check_output(out, work, cfg)  # before creating anything in a folder that is not ours
    comps = load_trainable_model(cfg)  # a model this training would spoil is refused with nothing written
    with lock_output(work, "finetune"):
        _check_output(out, work, cfg)  # again under the lock: another job may have claimed it meanwhile
        atomic_write_json(work / "job.json", cfg.job_fields())
        run = _Run(cfg, work, comps)
        losses: list[float] = []
        started, first_step = time.perf_counter(), run.step
        while run.step < cfg.steps:
            losses.append(_finite_loss(run.train_step(), run.step))
            step = run.step
            if step % cfg.log_every == 0 or step == cfg.steps:
                rate = (step - first_step) * cfg.batch_size / max(time.perf_counter() - started, 1e-9)
                _log_progress(work, step, cfg.steps, float(np.mean(losses[-cfg.log_every :])), rate)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save_state(work, step, run.unet, run.ema, run.optimizer)
        final_loss = float(np.mean(losses[-cfg.log_every :])) if losses else None
        _export(run.comps, run.base_hash, run.ema, out, work, cfg, run.data, final_loss)
    return out


def _finite_loss(loss: float, step: int) -> float:
    """`loss`, or a DivergedError: one NaN step makes every later weight NaN, and the checkpoint and the
    exported model with them."""
    if not math.isfinite(loss):
        raise DivergedError(
            f"the finetuning loss became {loss} at step {step}; nothing of this step was saved. Lower --lr "
            "(or raise --warmup-steps) and finetune into a new --out (these settings define the job)"
        )
    return loss


def load_trainable_model(cfg: FinetuneConfig):
    """The components of `cfg.model`, or the error that says why this finetuning cannot train it."""
    import torch
    from diffusers import DDPMScheduler

    from ..engines.hub import model_files
    from ..engines.models import load_components

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    comps = load_components(cfg.model, **model_files(cfg))
    if comps.text_encoder is None:
        raise ConfigError(f"model {cfg.model!r} has no text encoder; finetuning needs a text-to-image model")
    check_prediction_type(DDPMScheduler.from_config(comps.scheduler.config))
    refuse_distilled(comps, cfg.model)
    return comps


def distillation_marks(comps) -> list[str]:
    """What marks `comps` as a model distilled to sample in a few steps (empty for a base model): LCM's
    guidance embedding in the UNet, or the few-step sampler its folder ships (LCM, SD-/SDXL-Turbo)."""
    from ..generation.conditioning import uses_guidance_embedding
    from ..generation.schedulers import few_step_sampler

    marks = []
    if uses_guidance_embedding(comps):
        marks.append("its UNet takes LCM's guidance embedding (time_cond_proj_dim)")
    sampler = few_step_sampler(comps.scheduler)
    if sampler is not None:
        marks.append(f"it ships a few-step sampler ({sampler})")
    return marks


def refuse_distilled(comps, model: str) -> None:
    """An InputError for a distilled few-step model. Its weights were trained (consistency or adversarial
    distillation) to jump to the image in 1-8 steps; this loop's denoising loss at random timesteps is the
    base model's objective, so it trains the model back towards many-step sampling and off what made it
    useful, and it would train an LCM UNet without the guidance embedding it is sampled with."""
    marks = distillation_marks(comps)
    if marks:
        raise InputError(
            f"model {model!r} is distilled for few-step sampling ({'; '.join(marks)}); finetuning trains "
            "the plain denoising loss, which undoes the distillation. Finetune the base model it was "
            "distilled from and distil the result again, or use this model as it is"
        )


class _Run:
    """The state of one finetuning run: frozen parts, the UNet with its optimizer and EMA, the data."""

    def __init__(self, cfg: FinetuneConfig, work: Path, comps):
        """Take the loaded model (`load_trainable_model`), load and check the data, and restore the last
        checkpoint if there is one."""
        import torch
        from diffusers import DDPMScheduler

        from ..devices import resolve_device

        self.cfg, self.device = cfg, resolve_device(cfg.device)
        self.autocast_dtype = _autocast_dtype(cfg.precision, self.device)
        self.comps = comps
        self.base_hash = comps.weights_hash()
        _pin_base_commit(work, cfg, comps.revision)
        self.data = CaptionedImages.scan(cfg.real)
        resolution = cfg.resolution or comps.default_size[0]
        if resolution % comps.vae_scale_factor:
            raise ConfigError(
                f"resolution {resolution} is not a multiple of the VAE's factor {comps.vae_scale_factor}"
            )
        comps.to(device=self.device)
        self.resolution = resolution
        for module in (comps.vae, comps.text_encoder, comps.text_encoder_2):
            if module is not None:
                module.requires_grad_(False).eval()
        self.unet = comps.unet.train()
        self.noise_scheduler = DDPMScheduler.from_config(comps.scheduler.config)
        self.texts = _TextEmbeddings(comps, self.device)
        self.latents_of = _LatentSource(comps, self.data, resolution, self.device, cached=cfg.cache_latents)
        self.optimizer = torch.optim.AdamW(self.unet.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.ema = (
            {k: p.detach().clone() for k, p in self.unet.named_parameters()} if cfg.ema_decay > 0 else None
        )
        self.step = load_state(work, self.unet, self.ema, self.optimizer)
        if self.step:
            log.info("resuming at step %d of %d from %s", self.step, cfg.steps, work)
        self.order = _BatchOrder(len(self.data), cfg.batch_size, cfg.seed)

    def _added(self, pooled):
        """SDXL's added conditioning: the pooled caption embedding and the time ids generation sends for
        images of this resolution (original = target size, crop (0, 0)), so the UNet learns the
        conditioning it will be sampled with."""
        import torch

        if pooled is None:
            return {}
        r = self.resolution
        time_ids = torch.tensor([[r, r, 0, 0, r, r]], dtype=pooled.dtype, device=pooled.device)
        return {"text_embeds": pooled, "time_ids": time_ids.repeat(len(pooled), 1)}

    def captions(self, indices, pick) -> tuple[list[str], list[bool]]:
        """(captions, dropped): each image's own caption or a drawn template, or at the dropout rate
        dropped (caption "", the unconditional input)."""
        cfg, templates = self.cfg, self.cfg.templates
        captions, dropped = [], []
        for i in indices:
            drop = pick.random() < cfg.caption_dropout
            captions.append("" if drop else self.data.caption(i, templates[pick.integers(len(templates))]))
            dropped.append(drop)
        return captions, dropped

    def train_step(self) -> float:
        """One optimizer step on batch `self.step`; every draw comes from generators seeded by the step."""
        import torch

        from ..engines.runners import call_unet

        cfg, step, device = self.cfg, self.step, self.device
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        pick = np.random.default_rng([cfg.seed, step, 1])
        indices = self.order.batch(step)
        captions, dropped = self.captions(indices, pick)
        latents = self.latents_of(indices, gen)
        if step + 1 < cfg.steps:
            self.latents_of.prefetch(self.order.batch(step + 1))  # decode the next batch meanwhile
        noise = torch.randn(latents.shape, generator=gen).to(device)
        schedule = self.noise_scheduler
        timesteps = torch.randint(0, schedule.config.num_train_timesteps, (len(indices),), generator=gen)
        timesteps = timesteps.to(device)
        noisy = schedule.add_noise(latents, noise, timesteps)
        target = loss_target(schedule, latents, noise, timesteps)
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else cfg.lr
        dtype = self.autocast_dtype
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            context, pooled = self.texts(captions, dropped)
            pred = call_unet(self.unet, noisy, timesteps, context, **self._added(pooled))
        loss = torch.nn.functional.mse_loss(pred.float(), target.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.unet.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            with torch.no_grad():
                for key, param in self.unet.named_parameters():
                    self.ema[key].lerp_(param.detach(), 1.0 - cfg.ema_decay)
        self.step += 1
        return loss.item()


def check_prediction_type(schedule) -> str:
    """The scheduler's prediction_type, when finetuning knows it; else a ConfigError naming the fix."""
    kind = schedule.config.prediction_type
    if kind not in ("epsilon", "v_prediction", "sample"):
        raise ConfigError(
            f"the model's scheduler has prediction_type {kind!r}; finetuning knows epsilon, v_prediction and "
            "sample. Fix scheduler/scheduler_config.json"
        )
    return kind


def loss_target(schedule, latents, noise, timesteps):
    """What the UNet learns to predict, by the model's `prediction_type`, as diffusers' training scripts:
    epsilon -> the noise; v_prediction (SD 2.x at 768 px) -> v = sqrt(abar_t) * noise - sqrt(1 - abar_t) *
    latents (`get_velocity`); sample -> the clean latents."""
    kind = check_prediction_type(schedule)
    if kind == "epsilon":
        return noise
    return schedule.get_velocity(latents, noise, timesteps) if kind == "v_prediction" else latents


class _BatchOrder:
    """Batch k holds positions k*B .. k*B+B-1 of the endless sequence of seeded per-epoch permutations."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._perms: dict[int, np.ndarray] = {}

    def batch(self, step: int) -> list[int]:
        out = []
        for pos in range(step * self.batch_size, (step + 1) * self.batch_size):
            epoch = pos // self.n
            if epoch not in self._perms:
                self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n)}
            out.append(int(self._perms[epoch][pos % self.n]))
        return out


class _TextEmbeddings:
    """The frozen text encoders' conditioning per distinct caption, computed once (captions repeat a lot):
    (hidden states, pooled embedding or None), taken as generation takes them (`text_encoder_outputs`):
    the last hidden state, or SDXL's two penultimate states side by side and the second's pooled projection.
    """

    def __init__(self, comps, device):
        from ..generation.conditioning import zeros_for_unconditional

        self.comps, self.device, self.cache = comps, device, {}
        self.sdxl = comps.text_encoder_2 is not None
        # Dropped captions train the unconditional input guidance samples with: SDXL's is zeros.
        self.zero_dropped = zeros_for_unconditional(comps)

    def _ids(self, tok, captions: list[str]):
        return tok(
            captions,
            padding="max_length",
            max_length=tok.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(self.device)

    def __call__(self, captions: list[str], dropped: list[bool] | None = None):
        """(hidden states, pooled or None) of `captions`; the `dropped` ones as generation's unconditional
        input (zeros where the model asks for them, else the encoding of "")."""
        from ..generation.conditioning import zero_rows

        hidden, pooled = self._encoded(captions)
        if self.zero_dropped and dropped is not None and any(dropped):
            hidden, pooled = zero_rows(hidden, pooled, dropped)
        return hidden, pooled

    def _encoded(self, captions: list[str]):
        import torch

        from ..engines.runners import text_encoder_outputs

        missing = sorted(set(captions) - set(self.cache))
        if missing:
            comps = self.comps
            with torch.inference_mode():
                hidden = text_encoder_outputs(
                    comps.text_encoder, self._ids(comps.tokenizer, missing), self.sdxl
                )[0]
                pooled = [None] * len(missing)
                if self.sdxl:
                    second, pooled = text_encoder_outputs(
                        comps.text_encoder_2, self._ids(comps.tokenizer_2, missing), True
                    )
                    hidden = torch.cat([hidden, second], dim=-1)
            self.cache.update(
                {c: (h.clone(), None if p is None else p.clone()) for c, h, p in zip(missing, hidden, pooled)}
            )
        hidden = torch.stack([self.cache[c][0] for c in captions])
        return hidden, (torch.stack([self.cache[c][1] for c in captions]) if self.sdxl else None)


class _LatentSource:
    """Scaled VAE latents of a batch: posterior moments encoded per batch, or once for the whole set."""

    def __init__(self, comps, data: CaptionedImages, resolution: int, device, cached: bool):
        self.vae, self.data, self.resolution, self.device = comps.vae, data, resolution, device
        self._pool = None
        self._pending: tuple[tuple[int, ...], object] | None = None
        # Encoded on first use, so a resumed run with no steps left does not pay for it.
        self.cached, self.moments = cached, None

    def prefetch(self, indices) -> None:
        """Start decoding the images of a later batch on a worker thread (PIL releases the GIL)."""
        if self.cached:
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="finetune-decode")
        self._pending = (tuple(indices), self._pool.submit(self.data.load, indices, self.resolution))

    def _images(self, indices):
        if self._pending is not None and self._pending[0] == tuple(indices):
            images = self._pending[1].result()
            self._pending = None
            return images
        return self.data.load(indices, self.resolution)

    def _moments(self, indices):
        import torch

        with torch.inference_mode():
            return self.vae.encode(self._images(indices).to(self.device)).latent_dist.parameters

    def _encode_all(self):
        import torch

        log.info("encoding %d images once with the frozen VAE (--cache-latents)", len(self.data))
        chunks = [
            self._moments(range(i, min(i + 256, len(self.data)))).cpu() for i in range(0, len(self.data), 256)
        ]
        return torch.cat(chunks)

    def __call__(self, indices, gen):
        import torch

        if self.cached and self.moments is None:
            self.moments = self._encode_all()
        moments = self.moments[indices] if self.cached else self._moments(indices).cpu()
        # The posterior sample is drawn on the CPU from the step's generator, so the draw (and a resumed
        # run) is the same on every device.
        mean, logvar = moments.float().chunk(2, dim=1)
        std = torch.exp(0.5 * logvar.clamp(-30.0, 20.0))
        latents = mean + std * torch.randn(mean.shape, generator=gen)
        return to_unet_latents(latents, self.vae.config).to(self.device)


def _autocast_dtype(precision: str, device):
    import torch

    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    # auto: bf16 where the hardware runs it fast (Ampere and newer GPUs); fp32 on CPUs.
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def _already_finished(out: Path, cfg: FinetuneConfig) -> bool:
    result = out / RESULT_FILE
    if not result.is_file():
        return False
    info = json.loads(result.read_text())
    if info.get("job") != jsonable(cfg.job_fields()) or info.get("steps") != cfg.steps:
        return False
    pinned = (info.get("base_model_source") or {}).get("commit")
    return pinned is None or _base_commit(cfg) == pinned  # a Hub base: the revision asked is that commit


def _base_commit(cfg: FinetuneConfig) -> str | None:
    """The commit cfg's Hub model and revision resolve to (no weights loaded)."""
    from ..engines.builtin import BUILTIN_MODELS
    from ..engines.hub import model_files, resolve_model

    return resolve_model(cfg.model, **model_files(cfg), builtins=BUILTIN_MODELS).commit


def _pin_base_commit(work: Path, cfg: FinetuneConfig, commit: str | None) -> None:
    """A Hub base model's branch may move between a run and its resumption: training on from a checkpoint
    with another commit's VAE and text encoder is no longer this job, so the first run's commit is kept."""
    pin = work / "base_commit.json"
    if pin.is_file():
        theirs = json.loads(pin.read_text()).get("commit")
        if theirs != commit:
            raise JobConflictError(
                f"this finetuning job started from commit {theirs} of {cfg.model!r}, this run loaded "
                f"{commit}; rerun with --revision {theirs} to resume it, or use another --out"
            )
    elif commit is not None:
        atomic_write_json(pin, {"model": cfg.model, "commit": commit})


def _check_output(out: Path, work: Path, cfg: FinetuneConfig) -> None:
    """Refuse an output folder that holds something else or a different finetuning job (writes nothing)."""
    advice = "use another --out, or delete the folder to start over"
    saved = read_identity(work / "job.json", advice)
    if saved is not None:
        refuse_changed(
            saved,
            cfg.job_fields(),
            held=f"{str(out)!r} holds a finetuning job with other settings",
            advice=advice,
        )
        return
    if out.is_dir() and any(p.name != WORK_DIR for p in out.iterdir()):
        raise JobConflictError(
            f"{str(out)!r} is not empty and holds no finetuning job; pass an empty or new --out"
        )


def _log_progress(work: Path, step: int, steps: int, loss: float, rate: float) -> None:
    log.info("step %d/%d loss %.5f %.1f img/s", step, steps, loss, rate)
    path = work / "log.csv"
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["step", "loss", "images_per_s"])
        writer.writerow([step, f"{loss:.6f}", f"{rate:.2f}"])


def _export(
    comps, base_hash: str, ema, out: Path, work: Path, cfg: FinetuneConfig, data: CaptionedImages, loss
) -> None:
    """Write the diffusers folder (EMA weights when on) into `out`; finetune.json last marks it done."""
    import torch

    from ..engines.models import save_components

    if ema is not None:
        with torch.no_grad():
            for key, param in comps.unet.named_parameters():
                param.copy_(ema[key])
    comps.unet.eval()
    comps.to(device="cpu")
    staging = work / "export"
    shutil.rmtree(staging, ignore_errors=True)
    save_components(comps, staging)
    entries = sorted(staging.iterdir(), key=lambda p: p.name == "model_index.json")  # the index goes last
    for entry in entries:
        target = out / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)
    staging.rmdir()
    comps.extra.pop("weights_hash", None)
    atomic_write_json(
        out / RESULT_FILE,
        {
            "format": "genrobust-finetune/1",
            "base_model": cfg.model,
            "base_model_source": comps.source.provenance() if comps.source is not None else None,
            "base_weights_hash": base_hash,
            "weights_hash": comps.weights_hash(),
            "real": str(Path(cfg.real).resolve()),
            "images": len(data),
            "label_space": data.label_space.to_json(),
            "steps": cfg.steps,
            "final_loss": loss,
            "job": jsonable(cfg.job_fields()),
            "config": config_to_dict(cfg),
        },
    )
    log.info("wrote the finetuned model to %s", out)
