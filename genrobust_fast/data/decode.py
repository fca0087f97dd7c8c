"""The one image decoding contract: every PIL decoder (training, eval, img2img, `data check`) goes
through `open_rgb`, and the DALI loader checks the same pixel limit on the header before decoding.

The contract is what DALI's decoder does, so `--loader torch` and `--loader dali` train on the same
pixels and eval sees what training saw:
- EXIF orientation is applied;
- 16-bit samples are scaled to 8 bits as round(v / 257) (PIL's convert("RGB") would saturate grey ones
  and keep the high byte of colour ones);
- alpha is dropped, not composited (palette+alpha, LA, RGBA);
- CMYK is converted to RGB; of an animated image only the first frame is used;
- images of more than `MAX_IMAGE_PIXELS` pixels are refused from the header, before any decoding.

    with open_rgb(path_or_bytes, where="n01440764/a.JPEG") as img:   # PIL RGB image
        ...
    pixels = decode_rgb(data, where)                                   # HWC uint8 array
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..constants import MAX_IMAGE_PIXELS
from ..errors import DatasetError

FIX = "run `genrobust data check` on its folder so training and eval skip it, or replace the file"
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def check_pixel_limit(width: int, height: int, where: str) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise DatasetError(f"{where} is {width}x{height} pixels, {_OVER_LIMIT}")


_OVER_LIMIT = f"over the limit of {MAX_IMAGE_PIXELS} pixels (a decompression bomb?); downscale it or {FIX}"


def _decode_error(where: str, exc: Exception) -> DatasetError:
    from PIL import Image

    if isinstance(exc, Image.DecompressionBombError):  # PIL refuses at the same limit before we can
        return DatasetError(f"{where} is {_OVER_LIMIT}")
    return DatasetError(f"cannot decode {where} ({type(exc).__name__}: {exc}); {FIX}")


def _eight_bit(samples: np.ndarray) -> np.ndarray:
    """16-bit samples to 8 bits as DALI does: round(v / 257)."""
    return np.rint(np.clip(samples.astype(np.float64), 0, 65535) / 257).astype(np.uint8)


# 16-bit colour PNGs: PIL decodes them to 8 bits by keeping each sample's high byte, which differs from
# round(v / 257) by one level for a fifth of the values. Their rows are decoded a second time with a raw
# mode of the same pixel size that lands the other bytes: {PIL's raw mode: (raw mode, high, low channels)}.
_COLOUR16 = {
    "RGB;16B": ("RGB;16L", None, None),  # the little-endian unpacker keeps the big-endian low byte
    "RGBA;16B": ("RGBA;16L", None, None),
    "LA;16B": ("RGBA", 0, 1),  # 4 bytes a pixel read as R, G, B, A = L high, L low, A high, A low
}


def _colour16(source, img):
    """The RGB image of a 16-bit colour PNG under the contract (None for any other image): the high bytes
    come from `img`'s own decoding, the low ones from decoding `source` again."""
    from PIL import Image

    rawmodes = {tile[3] for tile in img.tile}
    if img.format != "PNG" or len(rawmodes) != 1 or next(iter(rawmodes)) not in _COLOUR16:
        return None
    other, high_channel, low_channel = _COLOUR16[rawmodes.pop()]
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as again:
        again.tile = [(*tile[:3], other) for tile in again.tile]
        again.load()
        second = np.asarray(again)
    img.load()
    if high_channel is None:
        high, low = np.asarray(img)[..., :3], second[..., :3]
    else:
        high, low = second[..., [high_channel] * 3], second[..., [low_channel] * 3]
    rgb = Image.fromarray(_eight_bit(high.astype(np.uint16) << 8 | low), "RGB")
    rgb.info.update(img.info)  # the EXIF orientation goes with it
    return rgb


def _to_rgb(img, source=None):
    from PIL import Image, ImageOps

    img.seek(0)  # animated images: the first frame
    if source is not None and (colour16 := _colour16(source, img)) is not None:
        img = colour16
    ImageOps.exif_transpose(img, in_place=True)  # in place: no copy of the (usual) upright image
    if img.mode in _SIXTEEN_BIT:
        levels = _eight_bit(np.asarray(img))
        return Image.fromarray(np.repeat(levels[..., None], 3, axis=2), "RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def open_rgb(source: bytes | str | Path, where: str):
    """The decoded RGB PIL image of encoded bytes or a file, by the contract above; a broken, empty or
    oversized file is a DatasetError naming it and the fix."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
            check_pixel_limit(img.width, img.height, where)
            rgb = _to_rgb(img, source)
            rgb.load()
            return rgb
    except DatasetError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _decode_error(where, exc) from exc


def decode_rgb(data: bytes, where: str) -> np.ndarray:
    """HWC uint8 RGB array of an encoded image (see `open_rgb`)."""
    return np.asarray(open_rgb(data, where))


def read_header(data: bytes, where: str) -> str:
    """The format name (PIL's: "JPEG", "PNG", "GIF"...) of encoded bytes, from the header alone, after
    checking the pixel limit; for decoders outside PIL (DALI), before they allocate anything."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            check_pixel_limit(img.width, img.height, where)
            return img.format or ""
    except DatasetError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _decode_error(where, exc) from exc
