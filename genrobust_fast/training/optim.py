"""SGD with momentum, no weight decay on norm layers and biases, warmup + cosine/linear schedule."""

from __future__ import annotations

import math


def parameter_groups(model, weight_decay: float) -> list[dict]:
    """Two groups: weights of convolutions and linear layers decay; biases and norm parameters do not.

    One-dimensional parameters are exactly the biases and the norm scales/shifts in torchvision models.
    """
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def lr_factor_fn(schedule: str, total_steps: int, warmup_steps: int):
    """step -> multiplier of the base lr: linear warmup from 1/warmup, then cosine or linear decay to 0.

    A plain function (not an object) so LambdaLR's state_dict stays free of custom classes and the
    checkpoint loads with torch.load(weights_only=True).
    """
    total_steps = max(1, total_steps)
    warmup_steps = max(0, min(warmup_steps, total_steps - 1))

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        progress = min(max(progress, 0.0), 1.0)
        if schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def build_optimizer(model, lr: float, momentum: float, weight_decay: float, nesterov: bool = False):
    """torch's SGD (DeepSpeed's fused optimizers would JIT-compile ops on first use)."""
    import torch

    return torch.optim.SGD(parameter_groups(model, weight_decay), lr=lr, momentum=momentum, nesterov=nesterov)


def build_scheduler(optimizer, schedule: str, total_steps: int, warmup_steps: int):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor_fn(schedule, total_steps, warmup_steps))
