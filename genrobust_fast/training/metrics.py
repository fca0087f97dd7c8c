"""Run logs: a CSV of metrics, the same scalars as TensorBoard events, and a progress bar (rank 0 only)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..fileio import atomic_write_text

FIELDS = ("step", "epoch", "loss", "lr", "images_per_s", "data_wait_fraction")


class MetricsLog:
    def __init__(
        self,
        out: str | Path,
        resume_step: int = 0,
        enabled: bool = True,
        progress_total: int = 0,
        progress: bool = True,
    ):
        self.enabled = enabled
        self.path = Path(out) / "metrics.csv"
        self._tb = None
        self._bar = None
        if not enabled:
            return
        rows = []
        if resume_step and self.path.is_file():
            # Steps after the checkpoint are replayed by the resumed run: drop them rather than repeat them.
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        kept = io.StringIO()
        writer = csv.DictWriter(kept, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, kept.getvalue())
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 - kept open for the whole run
        self._writer = csv.DictWriter(self._file, fieldnames=FIELDS)
        # tensorboard is a dependency: imported here because it is heavy and only rank 0 writes.
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(str(Path(out) / "tensorboard"))
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=progress_total, initial=resume_step, unit="step", dynamic_ncols=True)

    def log(self, row: dict) -> None:
        if not self.enabled:
            return
        self._writer.writerow({k: row.get(k) for k in FIELDS})
        self._file.flush()
        if self._tb is not None:
            for key in FIELDS[2:]:
                if row.get(key) is not None:
                    self._tb.add_scalar(f"train/{key}", row[key], row["step"])

    def advance(self, steps: int, images_per_s: float, data_wait: float, loss: float | None) -> None:
        if self._bar is not None:
            self._bar.update(steps)
            post = {"img/s": f"{images_per_s:.0f}", "wait": f"{data_wait:.0%}"}
            if loss is not None:
                post["loss"] = f"{loss:.3f}"
            self._bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if not self.enabled:
            return
        self._file.close()
        if self._tb is not None:
            self._tb.close()
        if self._bar is not None:
            self._bar.close()
