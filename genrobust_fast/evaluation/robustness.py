"""Effective robustness: accuracy under shift above what a baseline fit predicts from ID accuracy.

    logit(p) = ln(p / (1 - p)),  p = accuracy / 100
    baseline(id) = 100 * sigmoid(a * logit(id) + b)          (a, b: OLS in logit space)
    ER = shift accuracy - baseline(ID accuracy)              (points)

The shipped fits (resources/er_baselines.json, with provenance) are Taori et al.'s testbed lines;
`fit_baselines` refits them on your own rows (e.g. real-only models) with a bootstrap band:

    fits = load_baselines()                                   # shipped
    er = effective_robustness(61.0, 73.0, select_fit(fits, "imagenet-v2", "imagenet-val"))
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..textfiles import read_lines

logger = logging.getLogger(__name__)

BASELINES_FORMAT = "genrobust-er-baselines/1"
# Accuracies of exactly 0 or 100 % have infinite logits; predictions (ER) clip them to this margin. Fits
# refuse them instead: where a clipped point lies would be set by this constant, not by the model.
LOGIT_EPS = 1e-4
OPEN_INTERVAL = (
    "the baseline is a line in logit space and logit(0 %) and logit(100 %) are infinite, so fitted "
    "accuracies must lie strictly between 0 and 100 %"
)


def logit(acc_percent: float | np.ndarray) -> float | np.ndarray:
    p = np.clip(np.asarray(acc_percent, dtype=np.float64) / 100.0, LOGIT_EPS, 1 - LOGIT_EPS)
    out = np.log(p / (1 - p))
    return float(out) if out.ndim == 0 else out


def sigmoid_percent(x: float | np.ndarray) -> float | np.ndarray:
    out = 100.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class LinePiece:
    slope: float
    intercept: float
    id_min: float = -math.inf  # the piece applies for id_min <= ID accuracy < id_max
    id_max: float = math.inf


@dataclass(frozen=True)
class BaselineFit:
    shift: str
    id_benchmark: str
    pieces: tuple[LinePiece, ...]
    class_policy: str = "mask"
    label: str = ""
    source: str = ""
    default: bool = False
    band: dict[str, Any] | None = None  # {"level", "id_top1": [...], "lo": [...], "hi": [...]} in %
    n_models: int | None = None

    def piece_for(self, id_acc: float) -> LinePiece:
        for piece in self.pieces:
            if piece.id_min <= id_acc < piece.id_max:
                return piece
        return self.pieces[-1]

    def predict(self, id_acc: float) -> float:
        """Baseline shift accuracy (%) for an ID accuracy (%)."""
        piece = self.piece_for(id_acc)
        return sigmoid_percent(piece.slope * logit(id_acc) + piece.intercept)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "shift": self.shift,
            "id_benchmark": self.id_benchmark,
            "class_policy": self.class_policy,
            "label": self.label,
        }
        if len(self.pieces) == 1:
            out.update(slope=self.pieces[0].slope, intercept=self.pieces[0].intercept)
        else:
            out["pieces"] = [
                {k: v for k, v in vars(p).items() if not (isinstance(v, float) and math.isinf(v))}
                for p in self.pieces
            ]
        if self.default:
            out["default"] = True
        if self.band is not None:
            out["band"] = self.band
        if self.n_models is not None:
            out["n_models"] = self.n_models
        return out


def effective_robustness(shift_acc: float, id_acc: float, fit: BaselineFit) -> float:
    """ER in points: shift accuracy minus the baseline's prediction at this ID accuracy."""
    return float(shift_acc) - fit.predict(float(id_acc))


def _fit_from_json(entry: dict[str, Any], source: str) -> BaselineFit:
    try:
        if "pieces" in entry:
            pieces = tuple(
                LinePiece(
                    float(p["slope"]),
                    float(p["intercept"]),
                    float(p.get("id_min", -math.inf)),
                    float(p.get("id_max", math.inf)),
                )
                for p in entry["pieces"]
            )
        else:
            pieces = (LinePiece(float(entry["slope"]), float(entry["intercept"])),)
        if not all(math.isfinite(v) for p in pieces for v in (p.slope, p.intercept)):
            raise ValueError("a slope or intercept is not a finite number")
        return BaselineFit(
            entry["shift"],
            entry["id_benchmark"],
            pieces,
            entry.get("class_policy", "mask"),
            entry.get("label", ""),
            source,
            bool(entry.get("default", False)),
            entry.get("band"),
            entry.get("n_models"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"baseline fit {entry!r} in {source} is malformed ({exc}); expected shift, "
            "id_benchmark and slope/intercept or pieces"
        ) from exc


def load_baselines(path: str | Path | None = None) -> list[BaselineFit]:
    """The shipped fits (path=None) or a file written by `genrobust fit-baseline`."""
    if path is None:
        text = resources.files("genrobust_fast.resources").joinpath("er_baselines.json").read_text()
        source_name = "shipped"
    else:
        path = Path(path)
        if not path.is_file():
            raise InputError(
                f"baseline file {str(path)!r} does not exist; write one with "
                "`genrobust fit-baseline RESULTS --out FILE`"
            )
        text, source_name = "\n".join(read_lines(path, "baseline file")), str(path)
    fix = "give a file written by `genrobust fit-baseline RESULTS --out FILE`"
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{source_name} is not JSON ({exc}); {fix}") from None
    if not isinstance(doc, dict) or doc.get("format") != BASELINES_FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
        raise InputError(f"{source_name}: format {found!r} is not {BASELINES_FORMAT!r}; {fix}")
    if not isinstance(doc.get("fits"), list) or not all(isinstance(e, dict) for e in doc["fits"]):
        raise InputError(f"{source_name}: 'fits' is not a list of objects; {fix}")
    source = f"{source_name}:{doc.get('version', '?')}"
    return [_fit_from_json(entry, source) for entry in doc["fits"]]


def select_fit(
    fits: Iterable[BaselineFit], shift: str, id_benchmark: str | None = None
) -> BaselineFit | None:
    """The fit for `shift` on the ID axis `id_benchmark` (or the shift's default fit)."""
    candidates = [f for f in fits if f.shift == shift]
    if id_benchmark is not None:
        exact = [f for f in candidates if f.id_benchmark == id_benchmark]
        if exact:
            return exact[0]
    defaults = [f for f in candidates if f.default]
    return (defaults or candidates or [None])[0]


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def fit_line(
    id_acc: Iterable[float],
    shift_acc: Iterable[float],
    *,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    grid_points: int = 50,
) -> dict[str, Any]:
    """OLS of logit(shift) on logit(ID) with a bootstrap band (resampling models) on a grid of ID accuracy."""
    id_acc, shift_acc = (
        np.atleast_1d(np.asarray(list(id_acc), float)),
        np.atleast_1d(np.asarray(list(shift_acc), float)),
    )
    outside = [f"{a:g} %" for a in np.concatenate([id_acc, shift_acc]) if not 0 < a < 100]
    if outside:
        raise InputError(f"cannot fit accuracies of {', '.join(outside[:4])}: {OPEN_INTERVAL}")
    if id_acc.size < 2 or np.ptp(id_acc) == 0:
        got = f"all at {id_acc[0]:g} %" if id_acc.size else "none"
        raise InputError(
            f"a baseline fit needs at least 2 models with different ID accuracy; got {id_acc.size} ({got})"
        )
    x, y = logit(id_acc), logit(shift_acc)
    slope, intercept = _ols(x, y)
    grid = np.linspace(x.min() - 0.25 * np.ptp(x), x.max() + 0.25 * np.ptp(x), grid_points)
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(bootstrap):
        pick = rng.integers(0, x.size, x.size)
        if np.ptp(x[pick]) == 0:
            continue  # a resample of one distinct model has no slope
        a, b = _ols(x[pick], y[pick])
        curves.append(a * grid + b)
    tail = (1 - level) / 2
    lo, hi = np.quantile(np.array(curves), [tail, 1 - tail], axis=0) if curves else (grid * np.nan,) * 2
    return {
        "slope": slope,
        "intercept": intercept,
        "n_models": int(x.size),
        "band": {
            "level": level,
            "bootstrap": bootstrap,
            "id_top1": sigmoid_percent(grid).tolist(),
            "lo": sigmoid_percent(lo).tolist(),
            "hi": sigmoid_percent(hi).tolist(),
        },
    }


def pair_rows(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(shift row, its ID row or None) for every row that names an ID benchmark."""
    index = {(r["model"]["weights_sha256"], r["benchmark"], r["class_policy"], r["tta"]): r for r in rows}
    pairs = []
    for row in rows:
        if row.get("id_benchmark"):
            key = (row["model"]["weights_sha256"], row["id_benchmark"], row["class_policy"], row["tta"])
            pairs.append((row, index.get(key)))
    return pairs


def fit_baselines(
    rows: list[dict[str, Any]],
    models: Iterable[str] | None = None,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    min_models: int = 2,
) -> dict[str, Any]:
    """A baselines document (same format as the shipped one) fitted on `rows`.

    `models` are glob patterns on model names (e.g. real-only runs); None uses every model.
    """
    patterns = list(models or [])
    chosen = [
        r for r in rows if not patterns or any(fnmatch.fnmatch(r["model"]["name"], p) for p in patterns)
    ]
    groups: dict[tuple[str, str, str], list[tuple[str, float, float]]] = {}
    for shift, id_row in pair_rows(chosen):
        if id_row is None:
            continue
        key = (shift["benchmark"], shift["id_benchmark"], shift["class_policy"])
        groups.setdefault(key, []).append(
            (shift["model"]["name"], id_row["metrics"]["top1"], shift["metrics"]["top1"])
        )
    fits, skipped = [], []  # skipped: (why, whether 0/100 % accuracies are the reason)
    for (shift_name, id_name, policy), points in sorted(groups.items()):
        usable = [p for p in points if 0 < p[1] < 100 and 0 < p[2] < 100]
        edge = [f"{p[0]} ({p[1]:g} % ID, {p[2]:g} % shift)" for p in points if p not in usable]
        if len(usable) < min_models:
            if edge:
                why = (
                    f"{shift_name} vs {id_name} has {len(points)} model(s) but {len(usable)} with accuracies "
                    f"strictly between 0 and 100 % (left out: {', '.join(edge[:4])})"
                )
                skipped.append((why, True))
            else:
                skipped.append(
                    (f"{shift_name} vs {id_name}: {len(points)} model(s), need {min_models}", False)
                )
            continue
        if edge:
            logger.warning(
                "%s vs %s: leaving out %s: %s", shift_name, id_name, ", ".join(edge), OPEN_INTERVAL
            )
        result = fit_line([p[1] for p in usable], [p[2] for p in usable], bootstrap=bootstrap, seed=seed)
        fits.append(
            {
                "shift": shift_name,
                "id_benchmark": id_name,
                "class_policy": policy,
                "label": f"{shift_name} vs {id_name} (user fit, {len(usable)} models)",
                "models": sorted(p[0] for p in usable),
                **result,
            }
        )
    if not fits:
        at_edges = [why for why, edge in skipped if edge]
        if at_edges:
            raise InputError(
                f"{'; '.join(at_edges[:3])}. The {OPEN_INTERVAL}; fit on models that are neither "
                "perfect nor always wrong (--models)"
            )
        raise InputError(
            f"no (shift, ID) pair has {min_models}+ models with both rows in the results; evaluate "
            "each model on the ID benchmark too (e.g. imagenet-val) or loosen --models"
        )
    for why, _ in skipped:
        logger.warning("not fitting %s", why)
    return {
        "format": BASELINES_FORMAT,
        "version": "user-fit-1",
        "provenance": {
            "method": "OLS in logit space; bootstrap band over models",
            "seed": seed,
            "model_patterns": patterns or ["*"],
        },
        "fits": fits,
    }


def robustness_table(rows: list[dict[str, Any]], fits: list[BaselineFit]) -> list[dict[str, Any]]:
    """One record per row: accuracy, and where a baseline applies its ID accuracy, prediction and ER."""
    ids = {id(shift): id_row for shift, id_row in pair_rows(rows)}
    table = []
    for row in rows:
        rec = {
            "model": row["model"]["name"],
            "benchmark": row["benchmark"],
            "top1": row["metrics"]["top1"],
            "top5": row["metrics"]["top5"],
            "top1_ci_lo": row["metrics"]["top1_ci"][0],
            "top1_ci_hi": row["metrics"]["top1_ci"][1],
            "ece": row["metrics"]["ece"],
            "n": row["n"],
            "class_policy": row["class_policy"],
            "tta": row["tta"],
            "id_benchmark": row.get("id_benchmark"),
            "id_top1": None,
            "baseline_top1": None,
            "effective_robustness": None,
            "baseline": None,
            "mce": row["metrics"].get("mce"),
        }
        id_row = ids.get(id(row))
        fit = select_fit(fits, row["benchmark"], row.get("id_benchmark")) if row.get("id_benchmark") else None
        if id_row is not None:
            rec["id_top1"] = id_row["metrics"]["top1"]
        same_policy = fit is not None and (
            fit.class_policy == row["class_policy"]
            or row["num_scored_classes"] == row["model"]["num_classes"]
        )
        if id_row is not None and fit is not None and fit.id_benchmark == row["id_benchmark"] and same_policy:
            rec["baseline_top1"] = fit.predict(rec["id_top1"])
            rec["effective_robustness"] = rec["top1"] - rec["baseline_top1"]
            rec["baseline"] = fit.label or f"{fit.shift} vs {fit.id_benchmark}"
        table.append(rec)
    return table
