"""The finetuning job's settings: defaults here, then `--config YAML`, then CLI options."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import check_range
from ..constants import MAX_SEED
from ..errors import ConfigError, InputError
from ..textfiles import check_template

DEFAULT_TEMPLATE = "a photo of a {}"

# Fields that may change between a killed run and its resumption without changing the job: the
# number of steps (to extend a run), checkpoint cadence, logging, device and threads; where the HF cache
# is, and how the Hub revision is named (a branch or its commit): the commit it resolves to is what the
# job pins (trainer._pin_base_commit).
RESUMABLE_FIELDS = frozenset(
    {"steps", "checkpoint_every", "log_every", "device", "num_threads", "cache_dir", "revision"}
)
# Part of the job when given, left out when not, so a job.json written before the option still matches.
OPTIONAL_JOB_FIELDS = ("variant",)


@dataclass(frozen=True)
class FinetuneConfig:
    model: str = "tiny"
    revision: str | None = None  # Hub branch, tag or commit of `model` (engines/hub.py)
    variant: str | None = None  # weight-file variant of `model`, e.g. fp16
    cache_dir: str | None = None  # Hugging Face cache; None: HF_HUB_CACHE / HF_HOME
    real: str = ""
    out: str = ""
    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-5
    weight_decay: float = 1e-2
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    # 0 disables EMA; the exported UNet holds the EMA weights when it is on.
    ema_decay: float = 0.0
    # auto: bf16 autocast on a GPU that supports it, fp32 elsewhere (CPU bf16 is slow on most CPUs).
    precision: str = "auto"
    # Caption templates, one drawn per image; `{}` is the class name.
    templates: tuple[str, ...] = (DEFAULT_TEMPLATE,)
    # Probability of an empty caption, so classifier-free guidance has an unconditional model.
    caption_dropout: float = 0.0
    # Encode every image once with the frozen VAE and keep the latent moments in memory (small sets).
    cache_latents: bool = False
    resolution: int = 0  # 0: the model's default size
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 20
    device: str = "auto"
    num_threads: int = 0  # 0: leave torch's default

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        check_range("lr", self.lr, "(0, 3.4e38]", "fp32: past 3.4e38 it overflows")
        check_range("weight_decay", self.weight_decay, "[0, 3.4e38]", "fp32: past 3.4e38 it overflows")
        check_range("max_grad_norm", self.max_grad_norm, "(0, inf)", "gradients are clipped to this norm")
        check_range("warmup_steps", self.warmup_steps, "[0, inf)")
        check_range("resolution", self.resolution, "[0, inf)", "0: the model's default size")
        check_range("num_threads", self.num_threads, "[0, inf)", "0: torch's default")
        check_range("seed", self.seed, f"[0, {MAX_SEED}]")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}; 0 turns EMA off")
        if not 0.0 <= self.caption_dropout < 1.0:
            raise ConfigError(f"caption_dropout must be in [0, 1), got {self.caption_dropout}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(
                f"precision {self.precision!r} is not one of auto, fp32, bf16 (fp16 training needs loss "
                "scaling; use bf16)"
            )
        if not self.templates:
            raise ConfigError(
                "templates is empty; give at least one caption template such as 'a photo of a {}'"
            )
        for template in self.templates:
            try:
                check_template(template, where="caption template")
            except InputError as exc:
                raise ConfigError(str(exc)) from None

    def require_paths(self) -> None:
        """The defaults leave real/out empty (so YAML can fill them); a job needs both."""
        if not self.real:
            raise ConfigError(
                "real is empty; pass --real DIR, an ImageFolder of real images (one folder per class)"
            )
        if not self.out:
            raise ConfigError("out is empty; pass --out DIR for the finetuned diffusers folder")

    def job_fields(self) -> dict:
        """The settings that define the training trajectory (a resumed run must match them)."""
        from ..config import config_to_dict

        return {
            k: v
            for k, v in config_to_dict(self).items()
            if k not in RESUMABLE_FIELDS and not (k in OPTIONAL_JOB_FIELDS and v is None)
        }
