"""Real + generated mixing and the deterministic, resumable sampler.

The paper's main knob is how many generated images a model sees per real image. An epoch is:
every real image once, plus `round(ratio * n_real)` generated images drawn from the generated pool
(every pool image once before any repeats; the draw continues across epochs), shuffled together.
`generated_count` limits the pool to a fixed seeded subset; `generated_only` drops the real images and
makes an epoch one pass over the pool.

Every order is a pure function of (seed, epoch), so the sampler's state is two integers and a resumed
run sees exactly the images the uninterrupted run would have:

    plan = MixPlan.create(n_real=1000, n_generated=5000, ratio=1.0, seed=0)
    sampler = MixedSampler(plan, batch_size=64, rank=0, world_size=2)
    for step in range(sampler.steps_per_epoch):
        idx = sampler.batch_indices(epoch=0, step=step)   # global indices: < n_real real, else generated
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, *stream]))


# Streams of the seed sequence, so each random choice has its own independent generator.
_POOL, _DRAW, _EPOCH, _AUGMENT = 1, 2, 3, 4


@dataclass(frozen=True)
class MixPlan:
    """How many real and generated images one epoch holds."""

    n_real: int
    n_generated: int
    pool_size: int
    real_per_epoch: int
    generated_per_epoch: int
    ratio: float | None
    seed: int

    @classmethod
    def create(
        cls,
        n_real: int,
        n_generated: int = 0,
        ratio: float | None = None,
        generated_count: int | None = None,
        generated_only: bool = False,
        seed: int = 0,
    ) -> MixPlan:
        """Validate the mixing options against the dataset sizes.

        Example: MixPlan.create(n_real=100, n_generated=300, ratio=2.0)  # 100 real + 200 generated per epoch
        """
        if ratio is not None and ratio < 0:
            raise InputError(f"--ratio must be >= 0 (generated images per real image per epoch), got {ratio}")
        if generated_count is not None and generated_count < 1:
            raise InputError(f"--generated-count must be a positive number of images, got {generated_count}")
        if (ratio or generated_only or generated_count) and n_generated == 0:
            raise InputError("a generated-data option was given but no generated set; pass --generated DIR")
        if generated_count is not None and generated_count > n_generated:
            raise InputError(
                f"--generated-count {generated_count} exceeds the {n_generated} images of the generated set; "
                "lower it or generate more images"
            )
        if generated_only and ratio:
            raise InputError(
                "--generated-only trains on generated images alone; drop --ratio (or use --ratio without it)"
            )
        pool = generated_count if generated_count is not None else n_generated
        if generated_only:
            return cls(n_real, n_generated, pool, 0, pool, None, seed)
        if n_real == 0:
            raise InputError(
                "no real images; pass --real DIR, or --generated-only to train on generated images alone"
            )
        if ratio is None:
            # A generated set without an explicit ratio: use the whole pool once per epoch
            # (the paper's concat).
            ratio = pool / n_real if pool else 0.0
        return cls(n_real, n_generated, pool, n_real, round(ratio * n_real) if pool else 0, ratio, seed)

    @property
    def epoch_size(self) -> int:
        return self.real_per_epoch + self.generated_per_epoch

    def pool(self) -> np.ndarray:
        """Generated-set indices (0-based within the generated table) that may be drawn."""
        if self.pool_size == self.n_generated:
            return np.arange(self.n_generated, dtype=np.int64)
        return np.sort(_rng(self.seed, _POOL).permutation(self.n_generated)[: self.pool_size])

    def generated_draws(self, epoch: int) -> np.ndarray:
        """Pool indices drawn in `epoch`: slice [epoch*k, (epoch+1)*k) of an endless chain of permutations."""
        k, size = self.generated_per_epoch, self.pool_size
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        pool = self.pool()
        start, stop = epoch * k, (epoch + 1) * k
        parts = []
        for p in range(start // size, (stop - 1) // size + 1):
            perm = pool[_rng(self.seed, _DRAW, p).permutation(size)]
            lo, hi = max(start - p * size, 0), min(stop - p * size, size)
            parts.append(perm[lo:hi])
        return np.concatenate(parts)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """Global indices of one epoch: real i -> i, generated j -> n_real + j, shuffled together."""
        real = np.arange(self.real_per_epoch, dtype=np.int64)
        generated = self.n_real + self.generated_draws(epoch)
        both = np.concatenate([real, generated])
        return both[_rng(self.seed, _EPOCH, epoch).permutation(len(both))]

    def describe(self) -> dict:
        return {
            "real_images": self.n_real,
            "generated_images": self.n_generated,
            "generated_pool": self.pool_size,
            "real_per_epoch": self.real_per_epoch,
            "generated_per_epoch": self.generated_per_epoch,
            "ratio": self.ratio,
            "seed": self.seed,
        }


class MixedSampler:
    """Batches of global indices per (epoch, step) for one rank; a tail short of a global batch is dropped."""

    def __init__(self, plan: MixPlan, batch_size: int, rank: int = 0, world_size: int = 1):
        if batch_size < 1:
            raise InputError(f"batch size must be positive, got {batch_size}")
        self.plan, self.batch_size, self.rank, self.world_size = plan, batch_size, rank, world_size
        self.steps_per_epoch = plan.epoch_size // (batch_size * world_size)
        if self.steps_per_epoch == 0:
            raise InputError(
                f"an epoch of {plan.epoch_size} images is smaller than one global batch "
                f"({batch_size} x {world_size} ranks); lower --batch-size"
            )
        self._cached: tuple[int, np.ndarray] | None = None

    def _order(self, epoch: int) -> np.ndarray:
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, self.plan.epoch_order(epoch))
        return self._cached[1]

    def batch_indices(self, epoch: int, step: int) -> np.ndarray:
        if not 0 <= step < self.steps_per_epoch:
            raise IndexError(f"step {step} outside an epoch of {self.steps_per_epoch} steps")
        start = (step * self.world_size + self.rank) * self.batch_size
        return self._order(epoch)[start : start + self.batch_size]

    def augment_seed(self, epoch: int, step: int) -> np.random.SeedSequence:
        """Seed of a batch's random crops and flips: position-derived, so a resumed run draws the same."""
        return np.random.SeedSequence([self.plan.seed & 0xFFFFFFFF, _AUGMENT, epoch, step, self.rank])


class SequentialOrder:
    """Evaluation order: indices 0..n-1 in batches, the last one short; same interface as MixedSampler."""

    def __init__(self, n: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0):
        if batch_size < 1:
            raise InputError(f"batch size must be positive, got {batch_size}")
        # Rank r takes every world_size-th batch, so ranks never overlap and together cover everything.
        self.indices = np.arange(n, dtype=np.int64)
        self.batch_size, self.rank, self.world_size, self.seed = batch_size, rank, world_size, seed
        total_batches = -(-n // batch_size)
        self.steps_per_epoch = len(range(rank, total_batches, world_size))

    def batch_indices(self, epoch: int, step: int) -> np.ndarray:
        b = step * self.world_size + self.rank
        return self.indices[b * self.batch_size : (b + 1) * self.batch_size]

    def augment_seed(self, epoch: int, step: int) -> np.random.SeedSequence:
        return np.random.SeedSequence([self.seed & 0xFFFFFFFF, _AUGMENT, epoch, step, self.rank])
