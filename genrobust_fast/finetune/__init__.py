"""Generator finetuning: noise-prediction training of a diffusers UNet on captioned real images.

    from genrobust_fast.finetune import FinetuneConfig, finetune_generator
    finetune_generator(FinetuneConfig(model="tiny", real="real/", out="tiny-ft/", steps=100))

The paper's "finetuned generator" (SD v1.5, UNet only, captions `a photo of a {class name}`). The
output is a diffusers folder that `genrobust engine build` and `genrobust generate` load; a killed
run resumes from its last checkpoint and ends with the same weights as an uninterrupted one.
"""

from .config import FinetuneConfig
from .trainer import finetune_generator

__all__ = ["FinetuneConfig", "finetune_generator"]
