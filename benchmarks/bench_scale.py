"""Generation scale checks (prints JSON). Same as `genrobust bench scale`; arguments pass through.

python benchmarks/bench_scale.py --quick
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrobust_fast.cli.bench_scale import scale

if __name__ == "__main__":
    scale(sys.argv[1:], prog_name="bench_scale.py")
