"""The `torch` loader: Pillow decode in DataLoader workers, then one `crop_resize_normalize` call per batch.

Each worker builds a whole batch (decode B images, draw their boxes and flips from a position-derived
seed, one native kernel call for crop + resize + flip + normalize), so a batch costs one IPC transfer and
the augmentation is reproducible after a resume. The DataLoader's prefetch bounds memory: at most
`workers * prefetch` batches are in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np

from .augment import center_crop_boxes, make_augmentation, random_resized_crop_boxes
from .decode import decode_rgb
from .loader_spec import LoaderSpec
from .sources import ImageTable

logger = logging.getLogger(__name__)


class TableReader:
    """Encoded bytes and labels by global index over several tables (real first, then generated)."""

    def __init__(self, tables: Sequence[ImageTable]):
        self.tables = list(tables)
        self.starts = np.cumsum([0] + [len(t) for t in self.tables])

    def locate(self, index: int) -> tuple[ImageTable, int]:
        t = int(np.searchsorted(self.starts, index, side="right") - 1)
        return self.tables[t], int(index - self.starts[t])

    def read(self, index: int) -> tuple[bytes, int, str]:
        table, i = self.locate(index)
        return table.read_bytes(i), int(table.labels[i]), f"{table.root}/{table.describe(i)}"


class BatchBuilder:
    """Turns a batch of global indices into (NCHW float32 array, int64 labels). Picklable for workers."""

    def __init__(self, reader: TableReader, order, spec: LoaderSpec, kernel_threads: int = 1):
        self.reader, self.order, self.spec, self.kernel_threads = reader, order, spec, kernel_threads
        self._augment = None

    def __call__(self, key: tuple[int, int]):
        from .. import kernels

        epoch, step = key
        indices = self.order.batch_indices(epoch, step)
        images, labels = [], np.empty(len(indices), dtype=np.int64)
        for j, index in enumerate(indices):
            data, labels[j], where = self.reader.read(int(index))
            images.append(decode_rgb(data, where))
        sizes = np.array([img.shape[:2] for img in images], dtype=np.int64)
        spec = self.spec
        if spec.train:
            rng = np.random.default_rng(self.order.augment_seed(epoch, step))
            boxes = random_resized_crop_boxes(sizes, rng, scale=(spec.crop_scale, 1.0))
            flips = rng.random(len(images)) < 0.5
            if spec.augment != "none":
                images = self._augmented(images, rng)
        else:
            boxes = center_crop_boxes(sizes, spec.eval_resize, spec.image_size[0])
            flips = np.zeros(len(images), dtype=bool)
        batch = kernels.crop_resize_normalize(
            images,
            boxes,
            flips,
            spec.image_size,
            spec.mean,
            spec.std,
            dtype="float32",
            out=_shared_output((len(images), 3, *spec.image_size)),
            threads=self.kernel_threads,
        )
        return batch, labels

    def _augmented(self, images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """The paper's baselines act on the whole image before the crop (the kernel crops afterwards)."""
        import torch

        if self._augment is None:
            self._augment = make_augmentation(self.spec.augment)
        out = []
        # torchvision's policies draw from torch's global RNG: seed it from our position-derived stream
        # inside fork_rng so the trainer's own RNG state is left untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(0, 2**62)))
            for img in images:
                chw = torch.from_numpy(np.array(img)).permute(2, 0, 1)  # a writable copy
                out.append(np.ascontiguousarray(self._augment(chw).permute(1, 2, 0).numpy()))
        return out


def _shared_output(shape: tuple[int, ...]):
    """In a DataLoader worker: a shared-memory tensor for the kernel to write into, so handing the batch
    to the training process costs no copy (a plain array would be copied into shared memory on send)."""
    import torch

    if torch.utils.data.get_worker_info() is None:
        return None
    return torch.empty(shape, dtype=torch.float32).share_memory_()


class _Positions:
    """Mutable sampler over (epoch, step) keys, so persistent workers serve every epoch."""

    def __init__(self):
        self.keys: list[tuple[int, int]] = []

    def __iter__(self):
        return iter(list(self.keys))

    def __len__(self) -> int:
        return len(self.keys)


class _KeyDataset:
    def __init__(self, builder: BatchBuilder):
        self.builder = builder

    def __getitem__(self, key):
        return self.builder(key)


class TorchLoader:
    """Batches as (images NCHW float32 on `device`, labels int64 on `device`)."""

    kind = "torch"

    def __init__(self, builder: BatchBuilder, device: str = "cpu", workers: int = 2, prefetch: int = 2):
        import torch

        self.builder, self.device, self.workers = builder, torch.device(device), workers
        self.steps_per_epoch = builder.order.steps_per_epoch
        self._positions = _Positions()
        self._loader = torch.utils.data.DataLoader(
            _KeyDataset(builder),
            batch_size=None,
            sampler=self._positions,
            num_workers=workers,
            prefetch_factor=prefetch if workers > 0 else None,
            persistent_workers=workers > 0,
            pin_memory=self.device.type == "cuda",
        )

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[tuple]:
        import torch

        self._positions.keys = [(epoch, s) for s in range(start_step, self.steps_per_epoch)]
        non_blocking = self.device.type == "cuda"
        for images, labels in self._loader:
            images = torch.as_tensor(images)
            labels = torch.as_tensor(labels)
            yield (
                images.to(self.device, non_blocking=non_blocking),
                labels.to(self.device, non_blocking=non_blocking),
            )

    def describe(self) -> dict:
        return {"loader": self.kind, "workers": self.workers, "kernel_threads": self.builder.kernel_threads}

    def close(self) -> None:
        # Dropping the DataLoader's iterator shuts persistent workers down.
        self._loader = None
