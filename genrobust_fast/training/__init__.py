"""DeepSpeed training of torchvision classifiers on real + generated images.

    from genrobust_fast.training import TrainConfig, train
    result = train(TrainConfig(real="real/", generated="gen/", ratio=1.0, out="run/", image_size=32))

Importing this package does not import torch or DeepSpeed; `train` does.
"""

from .config import TrainConfig


def train(config):
    """Train a classifier; see genrobust_fast.training.trainer.train."""
    from .trainer import train as _train

    return _train(config)


__all__ = ["TrainConfig", "train"]
