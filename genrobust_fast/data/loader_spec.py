"""What a batch looks like, whichever loader makes it: one frozen record that `create_loader` builds once and
both loaders read (the torch loader's BatchBuilder, pickled to its workers, and the DALI pipeline).

    spec = LoaderSpec((224, 224), train=False)
    spec.eval_resize  # 256: the short side before the centre crop, resolved from the crop when not given
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..constants import IMAGENET_MEAN, IMAGENET_STD, eval_resize


@dataclass(frozen=True)
class LoaderSpec:
    """Output size and normalization, and how images are cropped: random-resized crops over `crop_scale`
    of the area and flips (plus the `augment` policy) when `train`, else resize to `eval_resize` and
    centre-crop. `seed` seeds DALI's crops (the torch loader draws them from the batch's position)."""

    image_size: tuple[int, int]
    train: bool = True
    mean: Sequence[float] = IMAGENET_MEAN
    std: Sequence[float] = IMAGENET_STD
    augment: str = "none"
    seed: int = 0
    eval_resize: int | None = None
    crop_scale: float = 0.08

    def __post_init__(self):
        # Tuples, so a spec compares, hashes and pickles alike whatever sequences it was given.
        object.__setattr__(self, "image_size", tuple(self.image_size))
        object.__setattr__(self, "mean", tuple(self.mean))
        object.__setattr__(self, "std", tuple(self.std))
        object.__setattr__(self, "eval_resize", self.eval_resize or eval_resize(self.image_size[0]))
