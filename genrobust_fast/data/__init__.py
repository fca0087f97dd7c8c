"""Datasets and loaders: real and generated image tables, real+generated mixing, DALI and torch loaders.

    from genrobust_fast.data import scan_image_folder, real_table, generated_table, MixPlan, MixedSampler
    files = scan_image_folder("/data/imagenet/val", named_label_space("imagenet"))  # cached listing
    loader = create_loader("auto", [real, gen], MixedSampler(plan, 64), image_size=(224, 224))

Importing this package does not import torch or DALI; the loaders import them when built.
"""

from .check import check_image_folder
from .loaders import LOADERS, choose_loader, create_loader
from .mixing import MixedSampler, MixPlan, SequentialOrder
from .scan import FileList, index_dir, scan_image_folder
from .sources import (
    ImageTable,
    align_label_spaces,
    generated_table,
    real_table,
    resolve_train_label_space,
)

__all__ = [
    "LOADERS",
    "FileList",
    "ImageTable",
    "MixPlan",
    "MixedSampler",
    "SequentialOrder",
    "align_label_spaces",
    "check_image_folder",
    "choose_loader",
    "create_loader",
    "generated_table",
    "index_dir",
    "real_table",
    "resolve_train_label_space",
    "scan_image_folder",
]
