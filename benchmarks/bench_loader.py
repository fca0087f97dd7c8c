"""Loader benchmark: `dali` and `torch`+kernel vs a plain torchvision DataLoader; prints JSON.

python benchmarks/bench_loader.py --images 2000 --threads 2
"""

import argparse
import json

from genrobust_fast.bench.loader import bench_loader

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        json.dumps(
            bench_loader(
                n_images=args.images,
                size=args.size,
                out_size=args.out_size,
                batch_size=args.batch_size,
                threads=args.threads,
                repeats=args.repeats,
            ),
            indent=2,
        )
    )
