"""One tensor spec per diffusion component: names, dtypes and symbolic dims.

The same table drives ONNX export (input/output names, dynamic axes), TensorRT optimisation
profiles (min/opt/max shapes), sample inputs for export and parity tests, and the output buffers a
runtime preallocates. Nothing else in the package restates a component's shapes.

    specs = component_specs(load_components("tiny"))
    profile = ShapeProfile(batch=(1, 4, 8), size=(32, 32))
    specs["unet"].profile_shapes(profile, (32, 32), 32)["sample"]   # ((2,4,16,16), (8,...), (16,...))

Symbols: `batch` is the number of images; `guided_batch` is the batch the UNet sees, doubled by
classifier-free guidance; `text_batch` is the number of prompts one text-encoder call encodes (the
pipeline encodes distinct prompts, and the negative prompt on its own, so 1 up to the image batch,
whatever the guidance); `latent_h`/`latent_w` are latent sizes and image sizes are `latent *
vae_scale`; `context_len` is the cross-attention length (77 text tokens, 1 image embedding).

Families: SDXL adds a second text encoder (`text_encoder_2`: penultimate hidden states and the pooled
projection) and the UNet's added conditioning (`text_embeds`, `time_ids`); a UNet with a guidance
embedding (LCM, `time_cond_proj_dim`) takes `timestep_cond`. Those are spec inputs like any other, so
export, profiles and buffers follow them. A component whose spec says `meta["fp32"]` (SDXL's VAE, which
overflows in fp16: diffusers' `force_upcast`) is exported, built and run in fp32 whatever the precision.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

# Runner call -> component name (the ComponentRunners method names are the pipeline's contract).
RUNNER_CALLS = {
    "encode_text": "text_encoder",
    "encode_text_2": "text_encoder_2",
    "unet": "unet",
    "decode_vae": "vae_decoder",
    "encode_vae": "vae_encoder",
    "encode_image": "image_encoder",
}
COMPONENTS = tuple(RUNNER_CALLS.values())

FP8_REFUSAL = (
    "fp8 needs an fp8-quantised ONNX graph (Q/DQ nodes), which genrobust-fast does not export yet; without "
    "one TensorRT's FP8 flag quantises nothing and the engine is fp16. Use --precision fp16 (or bf16)"
)


class Precision(str, enum.Enum):
    """Numeric precision of an engine. fp8 (compute capability 8.9+) is refused everywhere for now
    (`FP8_REFUSAL`): it needs a quantised graph that the export does not produce."""

    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"

    @classmethod
    def parse(cls, value: str | Precision) -> Precision:
        try:
            return cls(str(getattr(value, "value", value)).lower())
        except ValueError:
            raise InputError(
                f"unknown precision {value!r}; choose one of {', '.join(p.value for p in cls)}"
            ) from None

    @property
    def torch_dtype(self):
        import torch

        # fp8 engines keep fp16 activations at their inputs/outputs; only inner layers are fp8.
        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp8": torch.float16}[
            self.value
        ]

    @property
    def min_compute_capability(self) -> tuple[int, int]:
        return {"fp32": (0, 0), "fp16": (5, 3), "bf16": (8, 0), "fp8": (8, 9)}[self.value]


PRECISIONS = tuple(p.value for p in Precision)  # what --precision accepts for an engine


@dataclass(frozen=True)
class Dim:
    """A symbolic dimension: `scale * value(symbol)`, named `name` in the ONNX graph."""

    name: str
    symbol: str
    scale: int = 1


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # numpy/ONNX name of the I/O dtype: "float32" or "int64"
    shape: tuple[int | Dim, ...]

    def resolve(self, symbols: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else d.scale * symbols[d.symbol] for d in self.shape)

    @property
    def torch_dtype(self):
        import torch

        return {"float32": torch.float32, "int64": torch.int64}[self.dtype]


@dataclass(frozen=True)
class ShapeProfile:
    """The shapes an engine must accept: image batch min/opt/max and image size min/opt/max (H, W).

    `guidance=True` doubles the UNet batch (conditional + unconditional halves), so batch=(1, 4, 8)
    gives the UNet (2, 8, 16). The text encoder accepts 1 up to the batch's max prompts per call (opt 1),
    since the pipeline encodes each distinct prompt, and the negative prompt alone, as it meets them.
    """

    batch: tuple[int, int, int] = (1, 1, 4)
    size: tuple[int, int] | None = None  # opt image size; None -> the model's default size
    size_min: tuple[int, int] | None = None  # None -> same as size (static spatial shape)
    size_max: tuple[int, int] | None = None
    guidance: bool = True

    def __post_init__(self) -> None:
        lo, opt, hi = self.batch
        if not 1 <= lo <= opt <= hi:
            raise InputError(f"batch range {lo}:{opt}:{hi} must satisfy 1 <= MIN <= OPT <= MAX")

    def sizes(self, default: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        opt = tuple(self.size or default)
        lo, hi = tuple(self.size_min or opt), tuple(self.size_max or opt)
        if not (lo[0] <= opt[0] <= hi[0] and lo[1] <= opt[1] <= hi[1]):
            raise InputError(f"size range {lo}..{opt}..{hi} must be ordered MIN <= OPT <= MAX in H and W")
        return lo, opt, hi  # type: ignore[return-value]

    @property
    def is_static(self) -> bool:
        return (
            self.batch[0] == self.batch[2]
            and self.size_min in (None, self.size)
            and self.size_max
            in (
                None,
                self.size,
            )
        )

    def tag(self, default: tuple[int, int]) -> str:
        """A short folder-name-safe description, e.g. 'b1-4-8_512x512' or 'b1-4-8_256x256-512x768'."""
        lo, opt, hi = self.sizes(default)
        size = (
            f"{opt[0]}x{opt[1]}" if lo == opt == hi else f"{lo[0]}x{lo[1]}-{opt[0]}x{opt[1]}-{hi[0]}x{hi[1]}"
        )
        return f"b{'-'.join(map(str, self.batch))}_{size}{'' if self.guidance else '_nocfg'}"

    def to_json(self, default: tuple[int, int]) -> dict[str, Any]:
        lo, opt, hi = self.sizes(default)
        return {
            "batch": list(self.batch),
            "size_min": list(lo),
            "size": list(opt),
            "size_max": list(hi),
            "guidance": self.guidance,
        }

    def symbol_ranges(
        self, vae_scale: int, default: tuple[int, int], context_len: int
    ) -> dict[str, tuple[int, int, int]]:
        """min/opt/max of every symbol (latent sizes from image sizes)."""
        sizes = self.sizes(default)
        for h, w in sizes:
            if h % vae_scale or w % vae_scale:
                raise InputError(f"image size {h}x{w} is not a multiple of the VAE factor {vae_scale}")
        lo, opt, hi = self.batch
        factor = 2 if self.guidance else 1
        return {
            "batch": (lo, opt, hi),
            "guided_batch": (factor * lo, factor * opt, factor * hi),
            "text_batch": (1, 1, hi),
            "latent_h": tuple(s[0] // vae_scale for s in sizes),  # type: ignore[dict-item]
            "latent_w": tuple(s[1] // vae_scale for s in sizes),  # type: ignore[dict-item]
            # fixed: 77 text tokens for text models, 1 image embedding for image-variation models
            "context_len": (context_len, context_len, context_len),
        }


@dataclass(frozen=True)
class ComponentSpec:
    """Inputs and outputs of one component, in call order."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    vae_scale: int = 8
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """torch.onnx.export's dynamic_axes: every symbolic dim of every input and output."""
        return {
            t.name: {i: d.name for i, d in enumerate(t.shape) if isinstance(d, Dim)}
            for t in (*self.inputs, *self.outputs)
        }

    def bind(self, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, int]:
        """Solve the symbols from actual input shapes; a wrong rank, fixed dim or mismatch: InputError."""
        symbols: dict[str, int] = {}
        for spec in self.inputs:
            if spec.name not in shapes:
                raise InputError(f"{self.name}: missing input {spec.name!r}; expected {self.input_names}")
            shape = tuple(shapes[spec.name])
            if len(shape) != len(spec.shape):
                raise InputError(
                    f"{self.name}.{spec.name}: expected {len(spec.shape)} dims {self.describe(spec)}, got "
                    f"{shape}"
                )
            for axis, (want, got) in enumerate(zip(spec.shape, shape)):
                if isinstance(want, int):
                    if want != got:
                        raise InputError(
                            f"{self.name}.{spec.name}: dim {axis} must be {want}, got {got} in {shape}"
                        )
                    continue
                if got % want.scale:
                    raise InputError(
                        f"{self.name}.{spec.name}: dim {axis} ({want.name}) = {got} is not a multiple of "
                        f"{want.scale}"
                    )
                value = got // want.scale
                if symbols.setdefault(want.symbol, value) != value:
                    raise InputError(
                        f"{self.name}: inputs disagree on {want.symbol} ({symbols[want.symbol]} vs {value} "
                        f"from {spec.name} {shape})"
                    )
        return symbols

    def output_shapes(self, symbols: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
        return {t.name: t.resolve(symbols) for t in self.outputs}

    def profile_shapes(
        self, profile: ShapeProfile, default_size: tuple[int, int], context_len: int
    ) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
        """min/opt/max shape of every input, as TensorRT's optimisation profile wants them."""
        ranges = profile.symbol_ranges(self.vae_scale, default_size, context_len)
        out = {}
        for t in self.inputs:
            out[t.name] = tuple(t.resolve({k: v[i] for k, v in ranges.items()}) for i in range(3))
        return out  # type: ignore[return-value]

    def sample_inputs(self, symbols: Mapping[str, int], device="cpu", seed: int = 0) -> dict[str, Any]:
        """Random inputs of the right shapes and dtypes (token ids in range, timesteps in 0..999)."""
        import torch

        gen = torch.Generator().manual_seed(seed)
        out = {}
        for t in self.inputs:
            shape = t.resolve(symbols)
            if t.dtype == "int64":
                tensor = torch.randint(0, int(self.meta.get("vocab_size", 1000)), shape, generator=gen)
            elif t.name == "timestep":
                tensor = torch.randint(0, 1000, shape, generator=gen).float()
            elif t.name == "time_ids":  # (original H, W, crop top, left, target H, W), as SDXL sends
                tensor = torch.randint(0, 1024, shape, generator=gen).float()
            else:
                tensor = torch.randn(shape, generator=gen)
            out[t.name] = tensor.to(device)
        return out

    @staticmethod
    def describe(spec: TensorSpec) -> str:
        return "(" + ", ".join(str(d) if isinstance(d, int) else d.name for d in spec.shape) + ")"


def component_specs(components) -> dict[str, ComponentSpec]:
    """The specs of every component `components` has (image_encoder only for variation models,
    text_encoder_2 only for SDXL)."""
    scale = components.vae_scale_factor
    lat = components.latent_channels
    B, GB, TB = Dim("B", "batch"), Dim("B2", "guided_batch"), Dim("T", "text_batch")
    h, w = Dim("h", "latent_h"), Dim("w", "latent_w")
    H, W = Dim("H", "latent_h", scale), Dim("W", "latent_w", scale)
    cross_dim = components.unet.config.cross_attention_dim
    specs: dict[str, ComponentSpec] = {}
    specs["unet"] = ComponentSpec(
        "unet",
        (
            TensorSpec("sample", "float32", (GB, lat, h, w)),
            TensorSpec("timestep", "float32", (GB,)),
            TensorSpec("encoder_hidden_states", "float32", (GB, Dim("L", "context_len"), cross_dim)),
            *unet_added_inputs(components.unet.config, GB),
        ),
        (TensorSpec("noise_pred", "float32", (GB, components.unet.config.out_channels, h, w)),),
        scale,
    )
    vae_lat = components.vae.config.latent_channels
    vae_meta = {"fp32": True} if components.vae_needs_fp32 else {}
    specs["vae_decoder"] = ComponentSpec(
        "vae_decoder",
        (TensorSpec("latent", "float32", (B, vae_lat, h, w)),),
        (TensorSpec("images", "float32", (B, components.vae.config.out_channels, H, W)),),
        scale,
        meta=vae_meta,
    )
    specs["vae_encoder"] = ComponentSpec(
        "vae_encoder",
        (TensorSpec("images", "float32", (B, components.vae.config.in_channels, H, W)),),
        (TensorSpec("moments", "float32", (B, 2 * vae_lat, h, w)),),
        scale,
        meta=vae_meta,
    )
    length = text_length(components)
    # SDXL conditions on the penultimate layer of both encoders (diffusers' clip_skip=None there).
    layer = "penultimate_hidden_state" if components.text_encoder_2 is not None else "last_hidden_state"
    if components.text_encoder is not None:
        cfg = components.text_encoder.config
        specs["text_encoder"] = ComponentSpec(
            "text_encoder",
            (TensorSpec("input_ids", "int64", (TB, length)),),
            (TensorSpec(layer, "float32", (TB, length, cfg.hidden_size)),),
            scale,
            meta={"vocab_size": cfg.vocab_size},
        )
    if components.text_encoder_2 is not None:
        cfg = components.text_encoder_2.config
        specs["text_encoder_2"] = ComponentSpec(
            "text_encoder_2",
            (TensorSpec("input_ids", "int64", (TB, length)),),
            (
                TensorSpec(layer, "float32", (TB, length, cfg.hidden_size)),
                TensorSpec("text_embeds", "float32", (TB, cfg.projection_dim)),
            ),
            scale,
            meta={"vocab_size": cfg.vocab_size},
        )
    if components.image_encoder is not None:
        cfg = components.image_encoder.config
        specs["image_encoder"] = ComponentSpec(
            "image_encoder",
            (TensorSpec("pixel_values", "float32", (B, cfg.num_channels, cfg.image_size, cfg.image_size)),),
            (TensorSpec("image_embeds", "float32", (B, cfg.projection_dim)),),
            scale,
        )
    return specs


# The UNet's inputs beyond (sample, timestep, encoder_hidden_states), in call order.
UNET_ADDED_INPUTS = ("text_embeds", "time_ids", "timestep_cond")


def unet_added_inputs(config, GB: Dim) -> tuple[TensorSpec, ...]:
    """SDXL's added conditioning (pooled text embedding + six time ids) and LCM's guidance embedding."""
    added: list[TensorSpec] = []
    kind = getattr(config, "addition_embed_type", None)
    if kind == "text_time":
        pooled = config.projection_class_embeddings_input_dim - 6 * config.addition_time_embed_dim
        added += [
            TensorSpec("text_embeds", "float32", (GB, pooled)),
            TensorSpec("time_ids", "float32", (GB, 6)),
        ]
    elif kind is not None:
        raise InputError(
            f"UNet addition_embed_type {kind!r} is not supported (SD 1.x/2.x have none, SDXL has "
            "'text_time'); use an SD 1.x, 2.x or SDXL model"
        )
    if getattr(config, "time_cond_proj_dim", None):
        added.append(TensorSpec("timestep_cond", "float32", (GB, config.time_cond_proj_dim)))
    return tuple(added)


def text_length(components) -> int:
    """Token length of the text encoder (the UNet's context length), 1 for image-only models."""
    if components.text_encoder is None:
        return 1
    tok_len = getattr(components.tokenizer, "model_max_length", None)
    max_pos = components.text_encoder.config.max_position_embeddings
    return min(tok_len, max_pos) if isinstance(tok_len, int) and tok_len > 0 else max_pos
