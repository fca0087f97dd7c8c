"""Images/s and data-wait fraction of `genrobust train` vs a plain loop (prints JSON).
Runs `genrobust bench train`; arguments pass through.

python benchmarks/bench_train.py --arch resnet18 --image-size 112 --steps 30
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrobust_fast.cli.main import cli

if __name__ == "__main__":
    cli(["bench", "train", *sys.argv[1:]], prog_name="genrobust")
