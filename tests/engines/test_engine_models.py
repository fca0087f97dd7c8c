"""load_components on folders: save/load round trip, and clear errors for missing or broken parts."""

import shutil

import pytest
import torch

from genrobust_fast.engines.models import load_components, save_components
from genrobust_fast.errors import InputError


@pytest.fixture(scope="module")
def saved(tiny, tmp_path_factory):
    return save_components(tiny, tmp_path_factory.mktemp("tiny-sd") / "model")


def test_folder_round_trip_keeps_weights(tiny, saved):
    loaded = load_components(saved)
    assert loaded.image_encoder is not None
    assert loaded.weights_hash() == tiny.weights_hash()
    sample, ctx = torch.randn(2, 4, 16, 16), torch.randn(2, 32, 32)
    with torch.no_grad():
        a = tiny.unet(sample, 10, encoder_hidden_states=ctx).sample
        b = loaded.unet(sample, 10, encoder_hidden_states=ctx).sample
    torch.testing.assert_close(a, b)


def test_text_encoders_load_in_fp32_whatever_dtype_their_config_names(tiny, saved, tmp_path):
    """SDXL base's text_encoder/config.json says float16; transformers 5 loads in that dtype ("auto")
    while diffusers loads the UNet in fp32. Every module loads fp32; the runner casts to the job's dtype."""
    import json

    folder = shutil.copytree(saved, tmp_path / "model")
    config = folder / "text_encoder" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "dtype": "float16"}))
    loaded = load_components(folder)
    for module in ("unet", "vae", "text_encoder", "image_encoder"):
        assert next(getattr(loaded, module).parameters()).dtype == torch.float32, module
    assert loaded.weights_hash() == tiny.weights_hash()


def test_missing_and_malformed_folders(saved, tmp_path):
    with pytest.raises(InputError, match="neither a built-in model"):
        load_components(tmp_path / "absent")
    broken = tmp_path / "broken"
    shutil.copytree(saved, broken)
    shutil.rmtree(broken / "unet")
    with pytest.raises(InputError, match="lacks unet"):
        load_components(broken)
    shutil.copytree(saved / "unet", broken / "unet")
    (broken / "vae" / "config.json").write_text("{ not json")
    with pytest.raises(InputError, match="cannot load vae/"):
        load_components(broken)


def test_a_refiner_is_named_as_such(saved, tmp_path):
    """An SDXL refiner has text_encoder_2/ and no text_encoder/: the message says so, not 'lacks'."""
    refiner = shutil.copytree(saved, tmp_path / "refiner")
    for sub in ("text_encoder", "tokenizer"):
        shutil.move(refiner / sub, refiner / f"{sub}_2")
    with pytest.raises(InputError, match=r"text_encoder_2/ but no text_encoder/ \(an SDXL refiner\?\)"):
        load_components(refiner)


@pytest.mark.parametrize("channels,kind", [(9, "an inpainting model"), (5, "a depth-to-image model")])
def test_a_unet_that_takes_more_than_latents_is_refused_at_load(tiny, saved, tmp_path, channels, kind):
    """Such a UNet loads like any other and then failed in the first denoising step with a shape error."""
    from diffusers import UNet2DConditionModel

    folder = shutil.copytree(saved, tmp_path / f"in{channels}")
    config = dict(tiny.unet.config, in_channels=channels)
    UNet2DConditionModel.from_config(config).save_pretrained(folder / "unet")
    with pytest.raises(InputError, match=f"takes {channels} input channels but its VAE makes 4 \\({kind}"):
        load_components(folder)
