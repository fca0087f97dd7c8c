"""One decoding contract (issue 28): 16-bit, EXIF orientation, palette+alpha, RGBA, CMYK, animated GIF and
1x1 images decode to the same pixels in every decoder (PIL everywhere, DALI in training), and one pixel
limit refuses oversized images in all of them, DALI before it decodes."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from genrobust_fast.data import check_image_folder
from genrobust_fast.data.dali_loader import dali_ready
from genrobust_fast.data.decode import decode_rgb
from genrobust_fast.errors import DatasetError, InputError

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _halves(h=16, w=8):
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2] = RED
    a[h // 2 :] = BLUE
    return a


SIXTEEN = np.array([[0, 128, 129, 257, 32768, 65279, 65400, 65535]], dtype=np.uint16)


def _png16():
    return _save(Image.fromarray(SIXTEEN), "PNG"), np.repeat(np.rint(SIXTEEN / 257)[..., None], 3, 2), 0


def _png16_by_hand(samples: np.ndarray, color_type: int) -> bytes:
    """A 16-bit PNG (PIL writes none in colour): big-endian samples, filter 0 on every row."""
    h, w = samples.shape[:2]
    rows = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# Values where keeping the high byte (PIL) and round(v / 257) (DALI) differ: 128 -> 0 vs 0, 129 -> 0 vs 1,
# 383 -> 1 vs 1, 385 -> 1 vs 2, 65407 -> 255 vs 254, 65279 -> 254 vs 254.
COLOUR16 = np.array([0, 128, 129, 257, 383, 385, 32768, 32896, 65279, 65407, 65408, 65535], dtype=np.uint16)


def _colour16(channels: int, color_type: int):
    def case():
        samples = np.stack([np.roll(COLOUR16, c) for c in range(channels)], axis=-1)[
            None
        ]  # 1 x 12 x channels
        grey = np.repeat(samples[..., :1], 3, axis=2)
        expected = np.rint((samples[..., :3] if channels >= 3 else grey) / 257)
        return _png16_by_hand(samples, color_type), expected, 0

    return case


def _exif_rotated():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    data = _save(Image.fromarray(_halves()), "JPEG", quality=100, exif=exif, subsampling=0)
    return data, np.rot90(_halves(), k=-1), 3  # 16x8 stored, 8x16 shown: red on the right


def _palette_alpha():
    img = Image.new("P", (4, 4), 0)
    img.putpalette([*RED, *BLUE] + [0] * 762)
    img.putpixel((0, 0), 1)
    expected = np.zeros((4, 4, 3), np.uint8) + np.array(RED, np.uint8)
    expected[0, 0] = BLUE
    return _save(img, "PNG", transparency=0), expected, 0  # transparent red stays red: alpha dropped


def _rgba():
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0], a[0, 0, 3] = 200, 255
    return _save(Image.fromarray(a, "RGBA"), "PNG"), a[..., :3], 0


def _cmyk():
    return _save(Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "JPEG", quality=100), np.full((4, 4, 3), RED), 1


def _animated_gif():
    frames = [Image.new("P", (4, 4), i) for i in range(2)]
    for frame in frames:
        frame.putpalette([*RED, *BLUE] + [0] * 762)
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    return data, np.full((4, 4, 3), RED), 0  # the first frame


def _one_pixel():
    return _save(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"), np.array([[[10, 20, 30]]]), 0


CASES = {
    "16-bit PNG": _png16,
    "16-bit RGB PNG": _colour16(3, 2),
    "16-bit RGBA PNG": _colour16(4, 6),
    "16-bit grey+alpha PNG": _colour16(2, 4),
    "EXIF-rotated JPEG": _exif_rotated,
    "palette+alpha PNG": _palette_alpha,
    "RGBA PNG": _rgba,
    "CMYK JPEG": _cmyk,
    "animated GIF": _animated_gif,
    "1x1 PNG": _one_pixel,
}


def _dali_decode(data: bytes) -> np.ndarray:
    pytest.importorskip("nvidia.dali")
    from nvidia.dali import fn, pipeline_def, types

    @pipeline_def(batch_size=1, num_threads=1, device_id=None)
    def pipe():
        encoded = fn.external_source(source=lambda: [np.frombuffer(data, np.uint8)], batch=True)
        return fn.decoders.image(encoded, device="cpu", output_type=types.RGB)

    p = pipe()
    p.build()
    return np.array(p.run()[0][0])


@pytest.mark.parametrize("case", CASES)
def test_pil_and_dali_decode_every_odd_image_to_the_same_pixels(case):
    data, expected, tolerance = CASES[case]()
    pil = decode_rgb(data, case)
    assert pil.dtype == np.uint8 and pil.shape == expected.shape
    assert np.abs(pil.astype(int) - expected).max() <= tolerance
    dali = _dali_decode(dali_ready(data, case))
    assert dali.shape == pil.shape and np.abs(dali.astype(int) - pil).max() <= tolerance


def _eval_decoder(path):
    from genrobust_fast.evaluation.runner import ImageListDataset

    img, _ = ImageListDataset([str(path)], transform=lambda x: x)[0]
    return np.asarray(img)


def _img2img_decoder(path):
    from genrobust_fast.generation.pipeline import load_source_image

    return np.asarray(load_source_image(path, (0, 0), "variations"))


DECODERS = {"eval": _eval_decoder, "img2img": _img2img_decoder}


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("case", ["16-bit PNG", "16-bit RGB PNG", "EXIF-rotated JPEG", "animated GIF"])
def test_eval_and_img2img_decode_as_training_does(tmp_path, decoder, case):
    data, _, _ = CASES[case]()
    path = tmp_path / "image.png"
    path.write_bytes(data)
    assert np.array_equal(DECODERS[decoder](path), decode_rgb(data, case))


def _huge_png(width=20000, height=20000) -> bytes:
    """A valid PNG header claiming width x height; PIL and DALI would allocate it when decoding."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


REFUSERS = {
    "torch loader": lambda path: decode_rgb(path.read_bytes(), str(path)),
    "dali loader": lambda path: dali_ready(path.read_bytes(), str(path)),
    "eval": _eval_decoder,
}


@pytest.mark.parametrize("pil_guard", [True, False], ids=["pil-guard-on", "pil-guard-off"])
@pytest.mark.parametrize("decoder", REFUSERS)
def test_one_pixel_limit_for_every_decoder(tmp_path, decoder, pil_guard, monkeypatch):
    # PIL's own bomb guard refuses at the same limit; with it switched off (a library may set
    # Image.MAX_IMAGE_PIXELS = None), our header check is what refuses.
    if not pil_guard:
        from PIL import Image

        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    path = tmp_path / "huge.png"
    path.write_bytes(_huge_png())
    with pytest.raises(DatasetError, match=r"huge\.png.*over the limit of 178956970 pixels.*downscale"):
        REFUSERS[decoder](path)


def test_img2img_and_data_check_refuse_the_oversized_image_too(tmp_path):
    (tmp_path / "n01440764").mkdir()
    path = tmp_path / "n01440764" / "huge.png"
    path.write_bytes(_huge_png())
    (tmp_path / "n01440764" / "ok.png").write_bytes(_one_pixel()[0])
    with pytest.raises(InputError, match="over the limit"):
        _img2img_decoder(path)
    report = check_image_folder(tmp_path, workers=1)
    assert report["bad"] == ["n01440764/huge.png"] and "over the limit" in report["bad_details"][0]["error"]


@pytest.mark.parametrize("kind", ["torch", "dali"])
def test_loaders_refuse_the_oversized_image_before_decoding(tmp_path, kind):
    from genrobust_fast.data import SequentialOrder, create_loader, real_table
    from genrobust_fast.labels import LabelSpace

    (tmp_path / "n01440764").mkdir()
    (tmp_path / "n01440764" / "huge.png").write_bytes(_huge_png())
    real = real_table(tmp_path, LabelSpace.from_ids(("n01440764",)))
    loader = create_loader(kind, [real], SequentialOrder(len(real), 1), (8, 8), train=True, workers=0)
    with pytest.raises(DatasetError, match="huge.png.*over the limit"):
        list(loader.epoch(0))


def test_the_dali_source_parses_each_header_in_the_first_epoch_only(tables, monkeypatch):
    from genrobust_fast.data import MixedSampler, MixPlan, dali_loader
    from genrobust_fast.data.torch_loader import TableReader

    _, real, gen = tables
    parsed = []
    monkeypatch.setattr(dali_loader, "read_header", lambda data, where: parsed.append(where) or "JPEG")
    order = MixedSampler(MixPlan.create(len(real), len(gen), ratio=1.0, seed=0), batch_size=4)
    source = dali_loader._EncodedSource(TableReader([real, gen]), order, epoch=0, step=0)
    batches = []
    for _ in range(2):  # two epochs, each ending in StopIteration
        with pytest.raises(StopIteration):
            while True:
                batches.append(source(None))
    drawn = [
        int(i) for e in (0, 1) for step in range(order.steps_per_epoch) for i in order.batch_indices(e, step)
    ]
    assert len(parsed) == len(set(drawn)) < len(drawn)  # once per image, not once per draw
    assert len(batches) == 2 * order.steps_per_epoch and all(len(b[0]) == 4 for b in batches)
