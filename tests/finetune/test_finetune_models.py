"""Which models finetuning takes, and that it trains the unconditional input generation samples with."""

import pytest
import torch

from genrobust_fast.engines.builtin import LCM_SCHEDULER_CONFIG, build_tiny
from genrobust_fast.engines.models import load_components, save_components
from genrobust_fast.errors import InputError
from genrobust_fast.finetune import finetune_generator
from tests.finetune.test_finetune import tiny_cfg, write_real


@pytest.fixture
def real(tmp_path):
    return write_real(tmp_path / "real")


def _tiny_shipping(scheduler, folder):
    """The tiny SD 1.x model saved with another scheduler, as a distilled model's folder ships it."""
    comps = build_tiny()
    comps.scheduler = scheduler
    return str(save_components(comps, folder))


def _distilled_models(root):
    import diffusers

    trailing = {**LCM_SCHEDULER_CONFIG, "timestep_spacing": "trailing"}
    return {
        "lcm-unet": ("tiny-lcm", "guidance embedding"),
        "lcm-scheduler": (
            _tiny_shipping(diffusers.LCMScheduler.from_config(LCM_SCHEDULER_CONFIG), root / "lcm"),
            r"few-step sampler \(LCMScheduler\)",
        ),
        "turbo": (
            _tiny_shipping(diffusers.EulerAncestralDiscreteScheduler.from_config(trailing), root / "turbo"),
            "trailing timesteps",
        ),
    }


@pytest.mark.parametrize("kind", ["lcm-unet", "lcm-scheduler", "turbo"])
def test_a_distilled_few_step_model_is_refused_before_anything_is_written(tmp_path, real, kind):
    """The denoising loss would train LCM / SD-Turbo away from few-step sampling (and an LCM UNet
    without its guidance embedding): refused, naming the fix, with no output folder made."""
    model, mark = _distilled_models(tmp_path / "models")[kind]
    out = tmp_path / "out"
    with pytest.raises(InputError, match=mark) as err:
        finetune_generator(tiny_cfg(tmp_path, model=model, out=str(out)))
    assert "distilled for few-step sampling" in str(err.value)
    assert "Finetune the base model it was distilled from" in str(err.value)
    assert "use this model as it is" in str(err.value)
    assert not out.exists()


@pytest.mark.parametrize("model", ["tiny-sdxl", "tiny"])
def test_dropped_captions_train_the_unconditional_input_generation_samples_with(
    tmp_path, real, monkeypatch, model
):
    """SDXL samples guidance's unconditional half from zeros (force_zeros_for_empty_prompt): a dropped
    caption feeds the UNet zeros there, and the encoding of "" for SD 1.x."""
    from genrobust_fast.engines import runners
    from genrobust_fast.generation.conditioning import PromptEncoder

    fed = []
    call_unet = runners.call_unet

    def record(unet, sample, timestep, context, **added):
        fed.append((context.detach().clone(), added.get("text_embeds")))
        return call_unet(unet, sample, timestep, context, **added)

    monkeypatch.setattr(runners, "call_unet", record)
    cfg = tiny_cfg(tmp_path, model=model, steps=1)
    object.__setattr__(cfg, "caption_dropout", 1.0)  # the config keeps it below 1; here every caption drops
    finetune_generator(cfg)
    [(context, pooled)] = fed

    encoder = PromptEncoder(runners.TorchRunners(load_components(model)))
    unconditional, unconditional_pooled = encoder.negative(["", ""])  # what guidance samples with
    torch.testing.assert_close(context, unconditional, atol=1e-6, rtol=0)
    if model == "tiny-sdxl":
        assert not context.any() and pooled is not None and not pooled.detach().any()
        torch.testing.assert_close(pooled.detach(), unconditional_pooled, atol=0, rtol=0)
    else:
        assert context.abs().sum() > 0 and pooled is None
