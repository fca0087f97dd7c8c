"""Our generation job vs diffusers (prints JSON).
Runs `genrobust bench generate`; arguments pass through.

python benchmarks/bench_generate.py --model tiny --images 96 --steps 20 --batch 8
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrobust_fast.cli.main import cli

if __name__ == "__main__":
    cli(["bench", "generate", *sys.argv[1:]], prog_name="genrobust")
