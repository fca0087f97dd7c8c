"""UNet throughput per backend (prints JSON). Same as `genrobust bench unet`; arguments are passed through.

python benchmarks/bench_unet.py --model tiny --batch 8
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrobust_fast.cli.bench_unet import unet

if __name__ == "__main__":
    unet(sys.argv[1:], prog_name="bench_unet.py")
