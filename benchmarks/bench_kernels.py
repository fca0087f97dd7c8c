"""Native kernels vs torch and NumPy (prints JSON).
Runs `genrobust bench kernels`; arguments pass through.

python benchmarks/bench_kernels.py --threads 2 --out bench-kernels.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrobust_fast.cli.main import cli

if __name__ == "__main__":
    cli(["bench", "kernels", *sys.argv[1:]], prog_name="genrobust")
