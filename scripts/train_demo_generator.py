"""Train the shipped demo generators (`make demo-generator`): the base generator and its finetuned twin.

    python scripts/train_demo_generator.py                 # writes genrobust_fast/resources/demo_generator*
    python scripts/train_demo_generator.py --check-only    # rerun the shipping gates on the shipped folders

Both gates score on the holdout of the training split (genrobust_fast/demo/holdout.py), which the
generators never train on; neither reads the test split, where the demo's classifiers are scored.

A maintainer tool: the demo uses the shipped weights and never trains them. Resumable: rerun after an
interruption and the finished stages are skipped (the work folder keeps their state).
"""

from __future__ import annotations

import argparse
import json

from genrobust_fast.demo.fashion_mnist import DEFAULT_ROOT
from genrobust_fast.demo.generator import FINETUNED_DIR, SHIPPED_DIR, train_demo_generator
from genrobust_fast.demo.generator_check import check_generator, rendition_check
from genrobust_fast.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(SHIPPED_DIR))
    parser.add_argument("--finetuned-out", default=str(FINETUNED_DIR))
    parser.add_argument("--fashion-mnist", default=str(DEFAULT_ROOT))
    parser.add_argument("--work", default="build/demo-generator")
    parser.add_argument("--vae-steps", type=int, default=1200)
    parser.add_argument("--unet-steps", type=int, default=3000)
    parser.add_argument("--ema-decay", type=float, default=0.999, help="UNet EMA decay (base generator)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check-only", action="store_true", help="Only rerun the shipping gates.")
    args = parser.parse_args()
    configure_logging(1)
    if args.check_only:
        for folder in (args.out, args.finetuned_out):
            report = {
                "check": check_generator(folder, fashion_root=args.fashion_mnist),
                "rendition_check": rendition_check(folder, fashion_root=args.fashion_mnist),
            }
            print(folder, json.dumps(report, indent=2))
        return
    train_demo_generator(
        args.out,
        args.finetuned_out,
        args.fashion_mnist,
        args.work,
        args.vae_steps,
        args.unet_steps,
        args.batch_size,
        args.threads,
        ema_decay=args.ema_decay,
    )


if __name__ == "__main__":
    main()
