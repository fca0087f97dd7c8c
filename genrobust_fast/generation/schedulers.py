"""Diffusers schedulers by short name, built from the model's own scheduler config.

    scheduler = create_scheduler("dpm++", components.scheduler.config)
    SCHEDULERS  # {"pndm": "PNDMScheduler", "ddim": "DDIMScheduler", "euler": ..., "dpm++": ...}

Any diffusers scheduler class name (e.g. "UniPCMultistepScheduler") is accepted as well. The config
dict recorded with each image (`scheduler_config`) rebuilds the same scheduler in diffusers alone.

Few-step models: `lcm` (LCMScheduler, for LCM-distilled UNets or LoRAs, 2-8 steps) and `turbo`
(Euler ancestral with "trailing" timestep spacing, SD-Turbo/SDXL-Turbo's sampler, 1-4 steps with
guidance 0); `euler_trailing` is the deterministic twin. Trailing spacing starts at t=999, where the
distilled models were trained to start; "leading" would start a 1-step run at t=1. `model` is the
scheduler the model folder ships (an LCM folder's LCMScheduler, SDXL-Turbo's trailing Euler a).
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "pndm": ("PNDMScheduler", {}),  # SD 1.5's default, the paper's sampler
    "ddim": ("DDIMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "dpm++_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
    ),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "euler_a_trailing": ("EulerAncestralDiscreteScheduler", {"timestep_spacing": "trailing"}),
    "euler_trailing": ("EulerDiscreteScheduler", {"timestep_spacing": "trailing"}),
}
ALIASES = {
    "dpmsolver++": "dpm++",
    "dpm": "dpm++",
    "euler-a": "euler_a",
    "euler_ancestral": "euler_a",
    "turbo": "euler_a_trailing",
}


def scheduler_spec(name: str) -> tuple[str, dict[str, Any]]:
    """(diffusers class name, config overrides) for a short name or a diffusers class name."""
    key = ALIASES.get(name.lower(), name.lower())
    if key in SCHEDULERS:
        return SCHEDULERS[key]
    import diffusers

    cls = getattr(diffusers, name, None)
    if isinstance(cls, type) and name.endswith("Scheduler") and hasattr(cls, "from_config"):
        return name, {}
    raise InputError(
        f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}, model (the model's own) or a "
        "diffusers scheduler class name"
    )


def resolve_scheduler_name(name: str, shipped: Any) -> str:
    """`name`, or for "model" the class name of the scheduler the model ships (`shipped`, an instance)."""
    return type(shipped).__name__ if name.lower() == "model" else name


FEW_STEP_MAX = 8  # LCM samples in 2-8 steps, SD-Turbo and SDXL-Turbo in 1-4


def scheduler_advice(shipped: Any, chosen: Any, steps: int) -> list[str]:
    """Warnings for a job whose sampler does not fit the model (`shipped`: the scheduler its folder
    ships; `chosen`: the one the job built from it). The generate defaults are the paper's (PNDM, 50
    steps, guidance 7.5), which fit SD 1.x/2.x/SDXL but not every model a user brings."""
    return [a for a in (_few_step_advice(shipped, steps), _zero_snr_advice(shipped, chosen)) if a]


def few_step_sampler(shipped: Any) -> str | None:
    """The few-step sampler a model folder ships, in words, or None: an LCMScheduler (LCM), or trailing
    timestep spacing (SD-Turbo, SDXL-Turbo), both the mark of a model distilled to sample in 1-8 steps.
    Trailing spacing with zero-terminal-SNR betas is not: such models are trained to sample that way at
    any step count ("Common Diffusion Noise Schedules and Sample Steps Are Flawed")."""
    config = dict(shipped.config)
    if type(shipped).__name__ == "LCMScheduler":
        return "LCMScheduler"
    if config.get("timestep_spacing") == "trailing" and not config.get("rescale_betas_zero_snr"):
        return f"{type(shipped).__name__} with trailing timesteps"
    return None


def _few_step_advice(shipped: Any, steps: int) -> str | None:
    """A model that ships a few-step sampler run for more than FEW_STEP_MAX steps: 10-50x the compute
    for worse images."""
    sampler = few_step_sampler(shipped)
    if steps <= FEW_STEP_MAX or sampler is None:
        return None
    turbo = "--scheduler turbo --steps 1 --guidance 0"
    fix = "--scheduler lcm --steps 4" if sampler == "LCMScheduler" else turbo
    return (
        f"the model ships a few-step sampler ({sampler}) but this job runs {steps} steps; a distilled "
        f"model (LCM, SD-Turbo, SDXL-Turbo) is sampled with {fix} (or --scheduler model)"
    )


def _zero_snr_advice(shipped: Any, chosen: Any) -> str | None:
    """A model trained with zero terminal SNR (`rescale_betas_zero_snr` in its scheduler config) sampled by
    a class that lacks the option (PNDM among them): the class keeps the key in its config, so the record
    says True, but samples on the unrescaled betas, a schedule the model was not trained for."""
    if not dict(shipped.config).get("rescale_betas_zero_snr") or _rescales(type(chosen)):
        return None
    fits = [short for short, (cls, _) in SCHEDULERS.items() if _rescales(_diffusers_class(cls))]
    return (
        f"the model's scheduler rescales its betas to zero terminal SNR (rescale_betas_zero_snr), which "
        f"{type(chosen).__name__} cannot: it samples on a schedule the model was not trained for; use "
        f"--scheduler model or one of {', '.join(fits)}"
    )


def _rescales(cls: type) -> bool:
    import inspect

    return "rescale_betas_zero_snr" in inspect.signature(cls.__init__).parameters


def _diffusers_class(name: str) -> type:
    import diffusers

    return getattr(diffusers, name)


def create_scheduler(name: str, base_config: Any) -> Any:
    """A fresh scheduler instance (they hold per-run state: create one per batch)."""
    cls_name, overrides = scheduler_spec(name)
    return _diffusers_class(cls_name).from_config(dict(base_config), **overrides)


def scheduler_record(scheduler: Any) -> dict[str, Any]:
    """{"class": ..., "config": ...}: enough to rebuild it with `getattr(diffusers, cls).from_config(cfg)`."""
    config = {k: v for k, v in dict(scheduler.config).items() if not k.startswith("_")}
    return {"class": type(scheduler).__name__, "config": _plain(config)}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
