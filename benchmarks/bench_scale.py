"""Generation scale checks (prints JSON).
Runs `genrobust bench scale`; arguments pass through.

python benchmarks/bench_scale.py --quick
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrobust_fast.cli.main import cli

if __name__ == "__main__":
    cli(["bench", "scale", *sys.argv[1:]], prog_name="genrobust")
