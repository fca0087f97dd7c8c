"""`dali` and `torch`+kernel loaders vs a plain torchvision DataLoader (prints JSON).
Runs `genrobust bench loader`; arguments pass through.

python benchmarks/bench_loader.py --images 2000 --threads 2
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrobust_fast.cli.main import cli

if __name__ == "__main__":
    cli(["bench", "loader", *sys.argv[1:]], prog_name="genrobust")
