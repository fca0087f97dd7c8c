"""UNet throughput per backend (prints JSON).
Runs `genrobust bench unet`; arguments pass through.

python benchmarks/bench_unet.py --model tiny --batch 8
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrobust_fast.cli.main import cli

if __name__ == "__main__":
    cli(["bench", "unet", *sys.argv[1:]], prog_name="genrobust")
