"""Training benchmark: images/s and data-wait fraction of `genrobust train` vs a plain loop; prints JSON.

python benchmarks/bench_train.py --arch resnet18 --image-size 112 --steps 30
"""

import argparse
import json

from genrobust_fast.bench.train import bench_train

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--loader", default="auto", choices=("auto", "dali", "torch"))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    print(
        json.dumps(
            bench_train(
                arch=args.arch,
                image_size=args.image_size,
                batch_size=args.batch_size,
                steps=args.steps,
                loader=args.loader,
                threads=args.threads,
            ),
            indent=2,
        )
    )
