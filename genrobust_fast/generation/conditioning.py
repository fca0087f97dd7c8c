"""What the UNet is conditioned on, per model family, step for step as diffusers' pipelines build it.

    encoder = PromptEncoder(runners)
    embeds, pooled = encoder.encode(["a photo of a tench"])     # pooled is None outside SDXL
    added = added_conditioning(components, pooled, (32, 32), guidance=7.5, guided=True)

- SD 1.x / 2.x: the text encoder's last hidden state (StableDiffusionPipeline.encode_prompt).
- SDXL: both encoders' penultimate hidden states side by side, the second encoder's pooled projection
  as `text_embeds`, and `time_ids` = (original H, W, crop top, left, target H, W); an empty negative
  prompt is zeros when the model says `force_zeros_for_empty_prompt` (StableDiffusionXLPipeline).
- A UNet with a guidance embedding (LCM, `time_cond_proj_dim`) gets `timestep_cond` from the guidance
  scale, and then no unconditional batch (diffusers: guidance > 1 and no time_cond_proj_dim).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence

import torch

log = logging.getLogger(__name__)


class PromptEncoder:
    """Text embeddings per prompt; each distinct prompt is encoded once, alone, and cached (LRU).

    Alone (batch 1), not with the other prompts of its batch: on a CPU a matmul's last bits depend on the
    batch it runs in, so an embedding computed with whatever happened to miss the cache would make an image
    depend on the job's history. Encoded alone it depends on the prompt only, and a resumed job remakes the
    bytes of an uninterrupted one. The text encoder is a small part of the work (one call per new prompt
    against steps x UNet calls per batch).
    """

    def __init__(self, runners, cache_size: int = 1024, times=None):
        self.runners = runners
        self.components = runners.components
        self.sdxl = self.components.text_encoder_2 is not None
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor | None]] = OrderedDict()
        self._cache_size = cache_size
        self.times = times

    def encode(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """((B, L, D) embeddings, (B, P) pooled embeddings or None)."""
        started = time.perf_counter()
        out = []
        for p in prompts:
            found = self._cache.get(p)
            if found is None:
                found = self._encode_one(p)
                self._cache[p] = found  # LRU: labels jobs reuse ~1000 prompts; template jobs rarely repeat
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(p)
            out.append(found)
        if self.times is not None:
            self.times.add("text", started)
        embeds = torch.stack([e for e, _ in out])
        return embeds, (torch.stack([p for _, p in out]) if self.sdxl else None)  # type: ignore[misc]

    def negative(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Embeddings of negative prompts; SDXL's empty ones are zeros when the model asks for that."""
        embeds, pooled = self.encode(prompts)
        if zeros_for_unconditional(self.components):
            embeds, pooled = zero_rows(embeds, pooled, [not p for p in prompts])
        return embeds, pooled

    def _ids(self, tokenizer, prompt: str) -> torch.Tensor:
        tokens = len(tokenizer(prompt, verbose=False).input_ids)  # verbose: no "indexing errors" warning
        if (
            tokens > tokenizer.model_max_length
        ):  # the encoder sees the first tokens only: say so, as diffusers
            log.warning(
                "prompt of %d tokens cut to the text encoder's %d (the rest is recorded, not seen): %.80r",
                tokens,
                tokenizer.model_max_length,
                prompt,
            )
        return tokenizer(
            [prompt],
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(self.runners.device)

    def _encode_one(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        runners, dtype = self.runners, self.runners.dtype
        first = runners.encode_text(self._ids(self.components.tokenizer, prompt)).to(dtype)
        if not self.sdxl:
            return first[0], None
        second, pooled = runners.encode_text_2(self._ids(self.components.tokenizer_2, prompt))
        return torch.cat([first, second.to(dtype)], dim=-1)[0], pooled.to(dtype)[0]


def zeros_for_unconditional(components) -> bool:
    """Whether the unconditional input (an empty negative prompt; finetuning's dropped captions) is all
    zeros, hidden states and pooled embedding, instead of the encoding of "": SDXL's pipelines do that when
    the model says `force_zeros_for_empty_prompt` (model_index.json, default true)."""
    return components.text_encoder_2 is not None and components.force_zeros_for_empty_prompt


def zero_rows(hidden: torch.Tensor, pooled: torch.Tensor, rows: Sequence[bool]):
    """(hidden states, pooled embedding) with the batch rows marked in `rows` set to zero."""
    mask = torch.tensor(list(rows), device=hidden.device)
    zeroed = torch.where(mask[:, None, None], torch.zeros_like(hidden), hidden)
    return zeroed, torch.where(mask[:, None], torch.zeros_like(pooled), pooled)


def guidance_embedding(guidance: float, dim: int, batch: int) -> torch.Tensor:
    """LCM's w-embedding of (guidance - 1): diffusers' get_guidance_scale_embedding (sinusoids of w*1000)."""
    w = torch.tensor(guidance - 1.0).repeat(batch) * 1000.0
    half = dim // 2
    freqs = torch.exp(
        torch.arange(half, dtype=torch.float32) * -(torch.log(torch.tensor(10000.0)) / (half - 1))
    )
    emb = w.to(torch.float32)[:, None] * freqs[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1)
    return torch.nn.functional.pad(emb, (0, 1)) if dim % 2 == 1 else emb


def uses_guidance_embedding(components) -> bool:
    return bool(getattr(components.unet.config, "time_cond_proj_dim", None))


def doubles_batch(components, guidance: float) -> bool:
    """Whether the UNet sees an unconditional half (the engines' profiles then double the batch): as
    diffusers, guidance > 1 on a UNet without a guidance embedding. Few-step jobs (guidance 0, or LCM's
    embedding) run the UNet on the image batch alone."""
    return guidance > 1.0 and not uses_guidance_embedding(components)


def added_conditioning(
    components,
    pooled: torch.Tensor | None,
    size: tuple[int, int],
    guidance: float,
    batch: int,
    dtype: torch.dtype,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """The UNet's inputs beyond (sample, timestep, context) for a UNet batch of `batch`: SDXL's
    text_embeds (`pooled`, already in UNet-batch order) and time_ids, LCM's timestep_cond."""
    added: dict[str, torch.Tensor] = {}
    if pooled is not None:
        h, w = size  # original size = target size = the image's, crop (0, 0): diffusers' defaults
        time_ids = torch.tensor([[h, w, 0, 0, h, w]], dtype=dtype).repeat(batch, 1)
        added.update(text_embeds=pooled.to(device, dtype), time_ids=time_ids.to(device))
    if uses_guidance_embedding(components):
        dim = components.unet.config.time_cond_proj_dim
        added["timestep_cond"] = guidance_embedding(guidance, dim, batch).to(device, dtype)
    return added
