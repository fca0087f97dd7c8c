"""The `dali` loader: NVIDIA DALI decode + random-resized-crop + flip + normalize.

Encoded bytes come from our sampler through `fn.external_source` (files or WebDataset shard members
alike), so the real/generated mix and the resume position are the same as with the `torch` loader. On a
GPU the decoder runs with `device="mixed"` and batches arrive on the GPU; on a CPU-only machine every
operator runs with `device="cpu"` and `device_id=None`.

The image order is exact after a resume; DALI's own random crops are seeded from (seed, rank, epoch,
start step), so crops after a resume differ from the uninterrupted run (use the `torch` loader when
bit-identical resumes matter).
"""

from __future__ import annotations

import collections
import io
import logging
import re
from collections.abc import Iterator

import numpy as np

from ..errors import BackendUnavailableError, DatasetError
from .decode import FIX, open_rgb, read_header
from .loader_spec import LoaderSpec
from .torch_loader import TableReader

logger = logging.getLogger(__name__)


def dali_unavailable_reason() -> str | None:
    """None when DALI can run here, else why not (for `--loader auto`)."""
    try:
        import nvidia.dali
        import nvidia.dali.plugin.pytorch  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means: use the torch loader
        return (
            f"nvidia.dali cannot be imported ({type(exc).__name__}: {exc}); "
            "pip install 'genrobust-fast[dali]'"
        )
    return None


def _torchvision_resize_and_centre_crop(images, hwc, short_side: int, crop: tuple[int, int]):
    """DALI nodes for torchvision's Resize(short_side) + CenterCrop(crop), pixel for pixel in geometry:
    the long side is truncated (int(short_side * long / short)) and the crop's offset is round-half-to-
    even of (extent - crop) / 2, as Python's round() in CenterCrop. DALI's own resize_shorter and centred
    crop round both the other way on some sizes, which shifted small crops by a pixel (mean difference
    0.17-0.34 in normalized units at 32-64 px). `hwc`: each image's shape, read on the CPU from the
    encoded bytes (fn.peek_image_shape), so the arithmetic never waits on a GPU decoder's output.
    Returns (resized images, crop arguments)."""
    from nvidia.dali import fn, types
    from nvidia.dali import math as dmath

    shape = fn.cast(hwc, dtype=types.FLOAT)
    height, width = shape[0], shape[1]
    short = dmath.min(height, width)
    new_h, new_w = dmath.floor(short_side * height / short), dmath.floor(short_side * width / short)
    images = fn.resize(images, resize_y=new_h, resize_x=new_w, antialias=True)

    def position(extent, size: int):
        # DALI places the window at position * (extent - size): give it the exact offset torchvision uses.
        spare = extent - size
        half = dmath.floor(spare / 2)
        odd_spare, odd_half = spare - 2 * dmath.floor(spare / 2), half - 2 * dmath.floor(half / 2)
        return (half + odd_spare * odd_half) / dmath.max(spare, 1)

    h, w = crop
    return images, {"crop": (h, w), "crop_pos_y": position(new_h, h), "crop_pos_x": position(new_w, w)}


class _EncodedSource:
    """DALI external source: walks (epoch, step) from a start position, StopIteration at each epoch end.

    DALI calls it ahead of the consumer (prefetch), so it owns the schedule instead of the trainer.
    """

    def __init__(self, reader: TableReader, order, epoch: int, step: int):
        self.reader, self.order, self.epoch, self.step = reader, order, epoch, step
        # Images already found decodable by DALI as they are: their header (~70 us with PIL, a few % of a
        # CPU decode and far more beside GPU decoding) is parsed in the first epoch only.
        self._passed = np.zeros(int(reader.starts[-1]), dtype=bool)
        # The recent batches' table indices, numbered in order: DALI names a file it cannot decode only as
        # "sample #k" of the batch it was running, so the loader looks the file up here.
        self.recent: collections.deque[tuple[int, list[int]]] = collections.deque(maxlen=32)
        self.produced = 0

    def __call__(self, _info):
        if self.step >= self.order.steps_per_epoch:
            self.epoch, self.step = self.epoch + 1, 0
            raise StopIteration
        indices = self.order.batch_indices(self.epoch, self.step)
        self.step += 1
        encoded, labels = [], []
        self.recent.append((self.produced, [int(i) for i in indices]))
        self.produced += 1
        for index in indices:
            data, label, where = self.reader.read(int(index))
            if not self._passed[index]:
                ready = dali_ready(data, where)
                self._passed[index] = ready is data
                data = ready
            encoded.append(np.frombuffer(data, dtype=np.uint8))
            labels.append(np.array(label, dtype=np.int64))
        return encoded, labels


# What fn.decoders.image reads; anything else PIL reads (GIF) is handed over as a lossless PNG of the
# decoding contract's pixels.
DALI_FORMATS = frozenset({"JPEG", "PNG", "BMP", "TIFF", "WEBP", "JPEG2000", "PPM"})


def dali_ready(data: bytes, where: str) -> bytes:
    """Bytes DALI may decode: the pixel limit checked on the header first (DALI would allocate a 20000 x
    20000 image before failing or not), formats DALI cannot read transcoded by the shared contract."""
    if read_header(data, where) in DALI_FORMATS:
        return data
    buf = io.BytesIO()
    open_rgb(data, where).save(buf, format="PNG")
    return buf.getvalue()


def _dali_reason(exc: RuntimeError) -> str:
    """DALI's own words without the pipeline definition's traceback it embeds."""
    text = " ".join(str(exc).split())
    found = re.search(r"encountered: (.*?)(?: Current pipeline object is no longer valid.*)?$", text)
    return (found.group(1) if found else text)[:200].rstrip(" :")


def _decode_failure(source: _EncodedSource | None, consumed: int, exc: RuntimeError) -> DatasetError:
    """The error naming the file DALI failed on: its "sample #k" of the first batch not yet handed out
    (batches come out in order), else the first file of the batches in flight that the shared decoder
    cannot decode either, else those batches' files."""
    reason = _dali_reason(exc)
    pending = [indices for number, indices in source.recent if number >= consumed] if source else []
    sample = re.search(r"sample #(\d+)", reason)
    if pending and sample and int(sample.group(1)) < len(pending[0]):
        suspects = [pending[0][int(sample.group(1))]]
    else:
        suspects = [index for indices in pending for index in indices]
    for index in suspects:
        data, _, where = source.reader.read(index)
        try:
            open_rgb(data, where)
        except DatasetError as broken:  # names the file and the fix
            return DatasetError(f"DALI: {broken}")
        if len(suspects) == 1:
            return DatasetError(
                f"DALI cannot decode {where} ({reason}), though PIL can; convert it (e.g. to PNG) or {FIX}"
            )
    named = ", ".join(source.reader.read(i)[2] for i in suspects[:3]) if suspects else "unknown files"
    return DatasetError(f"DALI could not process a batch holding {named}... ({reason}); {FIX}")


class DaliLoader:
    """Batches as (images NCHW float32 on `device`, labels int64 on `device`)."""

    kind = "dali"

    def __init__(
        self,
        reader: TableReader,
        order,
        spec: LoaderSpec,
        device: str = "cpu",
        threads: int = 2,
        prefetch: int = 2,
    ):
        reason = dali_unavailable_reason()
        if reason:
            raise BackendUnavailableError(f"--loader dali cannot run: {reason}; or use --loader torch")
        import torch

        self.reader, self.order, self.image_size, self.train = reader, order, spec.image_size, spec.train
        self.mean, self.std = [255 * m for m in spec.mean], [255 * s for s in spec.std]
        self.device, self.threads, self.prefetch = torch.device(device), threads, prefetch
        self.seed, self.eval_resize, self.crop_scale = spec.seed, spec.eval_resize, spec.crop_scale
        self.steps_per_epoch = order.steps_per_epoch
        self._iterator = None
        self._source: _EncodedSource | None = None
        self._consumed = 0  # batches handed out by the current pipeline

    def _build(self, epoch: int, step: int):
        from nvidia.dali import fn, pipeline_def, types
        from nvidia.dali.plugin.pytorch import DALIGenericIterator

        gpu = self.device.type == "cuda"
        source = _EncodedSource(self.reader, self.order, epoch, step)
        h, w = self.image_size

        @pipeline_def
        def pipeline():
            encoded, labels = fn.external_source(
                source=source, num_outputs=2, batch=True, batch_info=True, dtype=[types.UINT8, types.INT64]
            )
            decode_device = "mixed" if gpu else "cpu"
            if self.train:
                images = fn.decoders.image_random_crop(
                    encoded,
                    device=decode_device,
                    output_type=types.RGB,
                    random_area=(self.crop_scale, 1.0),
                    random_aspect_ratio=(3 / 4, 4 / 3),
                    num_attempts=10,
                )
                images = fn.resize(images, size=(h, w), antialias=True)
                mirror = fn.random.coin_flip()
                crop = {}
            else:
                images = fn.decoders.image(encoded, device=decode_device, output_type=types.RGB)
                images, crop = _torchvision_resize_and_centre_crop(
                    images, fn.peek_image_shape(encoded), self.eval_resize, (h, w)
                )
                mirror = 0
            images = fn.crop_mirror_normalize(
                images,
                dtype=types.FLOAT,
                output_layout="CHW",
                mean=self.mean,
                std=self.std,
                mirror=mirror,
                **crop,
            )
            if gpu:
                labels = labels.gpu()
            return images, labels

        # Seeded by position so two ranks (and a resumed run) draw different, reproducible crops.
        pipe_seed = int(
            np.random.SeedSequence([self.seed, self.order.rank, epoch, step]).generate_state(1)[0] >> 1
        )
        pipe = pipeline(
            batch_size=self.order.batch_size,
            num_threads=self.threads,
            device_id=(self.device.index or 0) if gpu else None,
            seed=pipe_seed,
            prefetch_queue_depth=self.prefetch,
        )
        self._source, self._consumed = source, 0  # before building: building runs the first batches
        pipe.build()
        self._iterator = DALIGenericIterator(pipe, ["images", "labels"], auto_reset=False)

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[tuple]:
        expected = (self._source.epoch, self._source.step) if self._source is not None else None
        if self._iterator is None or expected != (epoch, start_step):
            # First use, or a jump the prefetching source did not plan for: start a pipeline there.
            self.close()
            try:
                self._build(epoch, start_step)  # DALI decodes the first batches while building
            except RuntimeError as exc:
                failure = _decode_failure(self._source, self._consumed, exc)
                self.close()
                raise failure from exc
        completed = False
        try:
            for batch in self._guarded(self._iterator):
                images, labels = batch[0]["images"], batch[0]["labels"].reshape(-1)
                if images.device != self.device:
                    images, labels = images.to(self.device), labels.to(self.device)
                yield images, labels
            completed = True
        finally:
            if completed:
                self._iterator.reset()  # the source already moved on to the next epoch
            else:
                self.close()  # left mid-epoch: the next call starts a fresh pipeline where it is asked to

    def _guarded(self, iterator):
        """DALI reports a broken file as a pipeline RuntimeError: name the file and the fix."""
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except RuntimeError as exc:
                raise _decode_failure(self._source, self._consumed, exc) from exc
            self._consumed += 1
            yield batch

    def describe(self) -> dict:
        return {
            "loader": self.kind,
            "dali_threads": self.threads,
            "decoder": "mixed" if self.device.type == "cuda" else "cpu",
        }

    def close(self) -> None:
        self._iterator, self._source = None, None
