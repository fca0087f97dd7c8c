"""The demo generators: small text-to-image models in the Stable Diffusion layout, trained on Fashion-MNIST.

    # make demo-generator runs scripts/train_demo_generator.py, which calls:
    train_demo_generator(SHIPPED_DIR, FINETUNED_DIR)

The base generator knows a wider world than the demo's classifiers: it is trained on the training split
less the holdout of holdout.py (58,000 images; its shipping gates score on the 2,000 held out), each
image in one of the renditions of shifts.GENERATOR_RENDITIONS (photo, sketch, negative, blurry)
and captioned with a template that names it ("a sketch of a coat."). Stages:
1. VAE pretraining (demo-only; SD ships a pretrained VAE): reconstruction MSE + a small KL term on the
   rendered 32×32 images, then `scaling_factor` set to 1/std of the latents as SD does.
2. UNet training with the generic generator finetuning code (`genrobust generator finetune`) on the
   captioned renditions (metadata.jsonl); captions dropped 10% of the time so guidance works.
3. The finetuned twin of finding (b): the base generator finetuned on the classifiers' real photos,
   captioned as photos, as the paper finetunes Stable Diffusion on ImageNet.
The text encoder is the frozen, seeded random character-level CLIP of the built-in models: captions
still map to distinct embeddings, which is all the UNet needs to condition on.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from ..engines.builtin import build_sd_layout
from ..engines.components import DiffusionComponents
from ..engines.models import save_components
from ..errors import GenrobustError
from ..finetune.data import CAPTIONS_FILE
from .fashion_mnist import DEFAULT_ROOT, convert_split, read_idx_split, select_per_class, to_rgb32
from .holdout import HOLDOUT_PER_CLASS, HOLDOUT_SEED, describe_holdout, holdout_indices, training_indices
from .shifts import GENERATOR_RENDITIONS, RENDITIONS

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "resources" / "demo_generator"
FINETUNED_DIR = SHIPPED_DIR.with_name("demo_generator_finetuned")
LABEL_TEMPLATE = "a photo of a {}"  # the `labels` strategy's prompt
MODEL_FILES = ("model_index.json", "scheduler", "text_encoder", "tokenizer", "unet", "vae")


def build_demo_architecture(seed: int = 0) -> DiffusionComponents:
    """Untrained demo model: 32×32 RGB images, VAE factor 4 (8×8×4 latents), cross-attention UNet.

    Example:
        comps = build_demo_architecture(); comps.default_size -> (32, 32)
    """
    unet = {
        "block_out_channels": (48, 96),
        "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        "attention_head_dim": 8,
    }
    return build_sd_layout("builtin:demo-untrained", seed, unet, (16, 32, 32), 32, 64, 77, 128)


def pretrain_vae(
    vae,
    images: np.ndarray,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    kl_weight: float = 1e-4,
    seed: int = 0,
) -> dict:
    """Train `vae` on (N, H, W, 3) uint8 images; sets its scaling_factor; returns final loss figures."""
    import torch

    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    vae.train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    recon_hist: list[float] = []
    started = time.perf_counter()
    for step in range(steps):
        batch = torch.from_numpy(images[rng.integers(len(images), size=batch_size)]).permute(0, 3, 1, 2)
        x = batch.float().div(127.5).sub(1.0)
        dist = vae.encode(x).latent_dist
        recon = vae.decode(dist.sample(generator=gen)).sample
        recon_loss = torch.nn.functional.mse_loss(recon, x)
        kl = dist.kl().mean() / dist.mean[0].numel()  # per latent element, so the weight is size-free
        loss = recon_loss + kl_weight * kl
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        recon_hist.append(recon_loss.item())
        if (step + 1) % 100 == 0:
            log.info(
                "vae step %d/%d recon mse %.5f kl %.3f (%.0f s)",
                step + 1,
                steps,
                np.mean(recon_hist[-100:]),
                kl.item(),
                time.perf_counter() - started,
            )
    vae.eval()
    with torch.inference_mode():
        sample = torch.from_numpy(images[rng.permutation(len(images))[:1024]]).permute(0, 3, 1, 2)
        latents = vae.encode(sample.float().div(127.5).sub(1.0)).latent_dist.mean
    scaling = float(1.0 / latents.std())
    vae.register_to_config(scaling_factor=scaling)
    return {"recon_mse": float(np.mean(recon_hist[-100:])), "scaling_factor": scaling}


def render_world(
    fashion_root: str | Path,
    renditions: tuple[str, ...] = GENERATOR_RENDITIONS,
    seed: int = 0,
    holdout_per_class: int = HOLDOUT_PER_CLASS,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The generator's training set: the training split without the holdout, each image in one of
    `renditions` (a seeded equal split) and captioned with one of that rendition's templates.
    (images, labels, captions)."""
    from .fashion_mnist import CLASSES

    images, labels = read_idx_split(fashion_root, "train")
    keep = training_indices(labels, holdout_per_class)
    images, labels = images[keep], labels[keep]
    rng = np.random.default_rng([seed, 7])
    which = rng.permutation(len(labels)) % len(renditions)  # rendition of each image
    rendered = to_rgb32(images)
    for r, name in enumerate(renditions):
        rendered[which == r] = RENDITIONS[name].transform(rendered[which == r], seed=seed + r)
    captions = []
    for label, r in zip(labels, which):
        templates = RENDITIONS[renditions[r]].templates
        captions.append(templates[int(rng.integers(len(templates)))].format(CLASSES[int(label)][1]))
    return rendered, labels, captions


def write_generator_world(
    fashion_root: str | Path,
    out: str | Path,
    renditions: tuple[str, ...] = GENERATOR_RENDITIONS,
    seed: int = 0,
    holdout_per_class: int = HOLDOUT_PER_CLASS,
) -> Path:
    """render_world as an ImageFolder whose metadata.jsonl holds the captions (finetune reads it).
    Written once; a rerun returns the finished folder (refused if it was written with another holdout)."""
    from ..fileio import atomic_write_text
    from .fashion_mnist import CLASSES, MARKER, write_image_folder

    out = Path(out)
    _, all_labels = read_idx_split(fashion_root, "train")
    source = {
        "dataset": "fashion-mnist",
        "split": "train",
        "renditions": list(renditions),
        "seed": seed,
        "holdout_excluded": describe_holdout(all_labels, holdout_per_class),
    }
    if (out / MARKER).is_file():
        # A world written before the holdout existed would silently train the generator on it.
        written = json.loads((out / MARKER).read_text()).get("source")
        if written != source:
            raise GenrobustError(
                f"{out} was written for {written}, not {source}; delete it (or the whole work folder) and "
                "rerun"
            )
        return out
    images, labels, captions = render_world(fashion_root, renditions, seed, holdout_per_class)
    lines = [
        json.dumps({"file_name": f"{CLASSES[int(label)][0]}/{i:05d}.png", "text": caption}) + "\n"
        for i, (label, caption) in enumerate(zip(labels, captions))
    ]
    # The captions go first: the folder's marker (written last by write_image_folder) means complete.
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CAPTIONS_FILE, "".join(lines))
    return write_image_folder(images, labels, out, source)


# The finetuned generator of finding (b): the base generator finetuned on real photos captioned as photos,
# as the paper finetunes SD on ImageNet: 100 per class, the seeded subset whose first 50 per class are
# the demo's mixed real subset (select_per_class keeps one order per seed), and the head of the order
# whose tail is the holdout, so the two are disjoint (checked in finetune_subset).
FINETUNE_STEPS = 400
FINETUNE_LR = 2e-4


def train_demo_generator(
    out: str | Path = SHIPPED_DIR,
    finetuned_out: str | Path = FINETUNED_DIR,
    fashion_root: str | Path = DEFAULT_ROOT,
    work: str | Path = "build/demo-generator",
    vae_steps: int = 1200,
    unet_steps: int = 3000,
    batch_size: int = 64,
    threads: int = 2,
    seed: int = 0,
    finetune_real_per_class: int = 100,
    holdout_per_class: int = HOLDOUT_PER_CLASS,
    ema_decay: float = 0.999,
) -> tuple[Path, Path]:
    """Both stages of the base generator, then its finetuned twin; copy only the model files (no
    training state) into `out` and `finetuned_out`. The defaults are the shipped generators' recipe
    (2026-12-07: 1,200 UNet steps with EMA 0.995; the earlier generators took 3,000 with EMA 0.999)."""
    import torch

    from ..finetune import FinetuneConfig, finetune_generator

    torch.set_num_threads(threads)
    work = Path(work)
    world = write_generator_world(
        fashion_root, work / "world", seed=seed, holdout_per_class=holdout_per_class
    )
    base = work / "base"
    if not (base / "model_index.json").is_file():
        comps = build_demo_architecture(seed)
        images, _, _ = render_world(fashion_root, seed=seed, holdout_per_class=holdout_per_class)
        stats = pretrain_vae(comps.vae, images, steps=vae_steps, seed=seed)
        log.info("VAE pretrained: %s", stats)
        comps.model_id = "demo-base"
        staging = work / "base.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        save_components(comps, staging)
        staging.rename(base)
    common = dict(
        batch_size=batch_size,
        caption_dropout=0.1,
        cache_latents=True,
        checkpoint_every=250,
        log_every=50,
        num_threads=threads,
        seed=seed,
    )
    trained = finetune_generator(
        FinetuneConfig(
            model=str(base),
            real=str(world),
            out=str(work / "trained"),
            steps=unet_steps,
            lr=5e-4,
            warmup_steps=100,
            # The EMA starts at the untrained weights and has no warm-up: keep its horizon (1 / (1 -
            # decay) steps) well below --unet-steps, or the shipped weights keep part of the init.
            ema_decay=ema_decay,
            **common,
        )
    )
    _ship(trained, Path(out), fashion_root, seed, holdout_per_class)
    finetune_subset(fashion_root, finetune_real_per_class, seed, holdout_per_class)  # refuses an overlap
    photos = convert_split(
        fashion_root, "train", work / f"real-train-{finetune_real_per_class}", finetune_real_per_class, seed
    )
    finetuned = finetune_generator(
        FinetuneConfig(
            model=str(out),  # the shipped base (fp16-stored weights), so its hash is the recorded base
            real=str(photos),
            out=str(work / "finetuned"),
            steps=FINETUNE_STEPS,
            lr=FINETUNE_LR,
            templates=(LABEL_TEMPLATE,),
            **common,
        )
    )
    _ship(finetuned, Path(finetuned_out), fashion_root, seed, holdout_per_class)
    return Path(out), Path(finetuned_out)


def finetune_subset(
    fashion_root: str | Path, per_class: int, seed: int = 0, holdout_per_class: int = HOLDOUT_PER_CLASS
) -> np.ndarray:
    """Training-split indices of the finetuned generator's real photos (what convert_split writes);
    an error if any is in the holdout (a seed other than the holdout's could draw one)."""
    _, labels = read_idx_split(fashion_root, "train")
    subset = select_per_class(labels, per_class, seed)
    shared = np.intersect1d(subset, holdout_indices(labels, holdout_per_class))
    if len(shared):
        raise GenrobustError(
            f"the finetune subset ({per_class} per class, seed {seed}) holds {len(shared)} holdout images; "
            f"use seed {HOLDOUT_SEED} (its head is disjoint from the holdout by construction)"
        )
    return subset


def _ship(trained: Path, out: Path, fashion_root: str | Path, seed: int, holdout_per_class: int) -> None:
    if _already_shipped(trained, out):
        log.info("%s already holds %s, checked", out, trained)
        return
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in MODEL_FILES:
        src = trained / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, staging / name)
    shutil.copy2(trained / "finetune.json", staging / "finetune.json")
    finalize_shipped(staging, fashion_root, seed=seed, holdout_per_class=holdout_per_class)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    log.info("demo generator written to %s", out)


def _already_shipped(trained: Path, out: Path) -> bool:
    """`out` holds the checked copy of `trained` (its finetune.json names the same trained weights)."""
    shipped, source = out / "finetune.json", trained / "finetune.json"
    if not ((out / "demo_generator.json").is_file() and shipped.is_file() and source.is_file()):
        return False
    return json.loads(shipped.read_text())["weights_hash"] == json.loads(source.read_text())["weights_hash"]


class GeneratorQualityError(GenrobustError):
    """The trained demo generator's samples do not teach a classifier the classes; it is not shipped."""


# The shipping gates, both scored on the holdout: generated-only training must beat chance (10%) clearly,
# and the rendition prompts must be drawn as named well above chance (0.25).
MIN_HOLDOUT_ACCURACY = 25.0
MIN_RENDITION_MATCH = 0.5


def finalize_shipped(
    folder: str | Path,
    fashion_root: str | Path = DEFAULT_ROOT,
    seed: int = 0,
    holdout_per_class: int = HOLDOUT_PER_CLASS,
    check_per_class: int = 50,
    rendition_per_class: int = 3,
    check_steps: int = 15,
) -> dict:
    """Store the UNet and text encoder in fp16 (half the size; diffusers loads them back as fp32), run
    the shipping gates on the holdout, and write demo_generator.json with the figures and the holdout."""
    from safetensors.torch import load_file, save_file

    from ..engines.models import load_components
    from ..fileio import atomic_path, atomic_write_json
    from .generator_check import check_generator, rendition_check

    folder = Path(folder)
    for weights in (
        folder / "unet" / "diffusion_pytorch_model.safetensors",
        folder / "text_encoder" / "model.safetensors",
    ):
        state = load_file(str(weights))
        with atomic_path(weights) as tmp:
            save_file(
                {k: v.half() if v.is_floating_point() else v for k, v in state.items()},
                str(tmp),
                metadata={"format": "pt"},
            )
    gates = dict(fashion_root=fashion_root, seed=seed, holdout_per_class=holdout_per_class)
    check = check_generator(folder, per_class=check_per_class, steps=check_steps, **gates)
    if check["accuracy_on_holdout"] < MIN_HOLDOUT_ACCURACY:
        raise GeneratorQualityError(
            f"a classifier trained on the generator's samples scores {check['accuracy_on_holdout']:.1f}% "
            f"on the holdout (chance {check['chance']:.0f}%, required {MIN_HOLDOUT_ACCURACY:.0f}%); train "
            "longer (--unet-steps)"
        )
    renditions = rendition_check(folder, per_class=rendition_per_class, **gates)
    if renditions["all"] < MIN_RENDITION_MATCH:
        raise GeneratorQualityError(
            f"the generator draws the rendition its prompt names for {renditions['all']:.2f} of its samples "
            f"(chance 0.25, required {MIN_RENDITION_MATCH}): {renditions}; train longer (--unet-steps)"
        )
    _, labels = read_idx_split(fashion_root, "train")
    info = {
        "format": "genrobust-demo-generator/1",
        "produced_by": "make demo-generator  (python scripts/train_demo_generator.py)",
        "storage": "unet and text_encoder weights stored as fp16; diffusers loads them as fp32",
        "weights_hash": load_components(folder).weights_hash(),
        "holdout": describe_holdout(labels, holdout_per_class),
        "gates": {
            "min_accuracy_on_holdout": MIN_HOLDOUT_ACCURACY,
            "min_rendition_match": MIN_RENDITION_MATCH,
        },
        "check": check,
        # fraction of each rendition prompt's samples recognised as that rendition (chance 0.25)
        "rendition_check": renditions,
    }
    atomic_write_json(folder / "demo_generator.json", info)
    return info
