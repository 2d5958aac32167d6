"""Score distributions per model and category: the image scores of defect-free vs defective test images
beside the row's decision threshold (``image_F1_threshold``), and the test images the models get most wrong.

One seed per model and category (the first that succeeded and left its scores): scores of different seeds are
on different scales, and their thresholds differ, so pooling them would blur both.

"Hardest" must compare models whose scores live on different scales, so it ranks (image, model) pairs by a
scale-free share: for a defective image, the share of the model's defect-free test images scoring at least as
high; for a defect-free image, the share of the defective ones scoring at most as high (1: on the wrong side of
every image of the other class). Ties of that share keep the models' order, then put the more extreme score
first (lower for a defective image, higher for a defect-free one), then the image path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePath

import numpy as np
import pandas as pd

from iadbench.report.labels import Labels
from iadbench.stats.evidence import Evidence, scores_of

N_HARDEST = 5


@dataclass
class Panel:
    model: str
    seed: int
    scores: pd.DataFrame  # the job's scores.parquet (image_path, label, defect_type, image_score, ...)
    threshold: float      # the row's image_F1_threshold (NaN: none)

    @cached_property
    def defective(self) -> np.ndarray:
        return self.scores["image_score"].to_numpy(dtype=np.float64)[self.scores["label"].to_numpy() > 0]

    @cached_property
    def normal(self) -> np.ndarray:
        return self.scores["image_score"].to_numpy(dtype=np.float64)[self.scores["label"].to_numpy() <= 0]


def panels(frame: pd.DataFrame, evidence: Evidence | None, dataset: str, category: str) -> list[Panel]:
    """Per model of the category (in the frame's order), its first ok seed that has scores."""
    if not evidence:
        return []
    rows = frame[(frame["dataset"] == dataset) & (frame["category"] == category) & frame["status"].eq("ok")]
    thresholds = (rows["image_F1_threshold"] if "image_F1_threshold" in rows else pd.Series(math.nan, rows.index))
    made, done = [], set()
    order = np.argsort(rows["seed"].to_numpy(), kind="stable")
    models, seeds, values = rows["model"].to_numpy()[order], rows["seed"].to_numpy()[order], thresholds.to_numpy()[order]
    first = {model: index for index, model in reversed(list(enumerate(rows["model"])))}  # the frame's model order
    for model, seed, threshold in sorted(zip(models, seeds, values, strict=True), key=lambda job: first[job[0]]):
        if model in done:
            continue
        scores = scores_of(evidence, (dataset, category, model, int(seed)))
        if scores is not None:
            made.append(Panel(model, int(seed), scores, math.nan if pd.isna(threshold) else float(threshold)))
            done.add(model)
    return made


def _image_name(path: str) -> str:
    """``.../test/<defect>/000.png`` -> ``<defect>/000.png``."""
    parts = PurePath(path).parts
    return "/".join(parts[-2:]) if parts else path


def hardest_images(category_panels: list[Panel], labels: Labels | None = None, n: int = N_HARDEST) -> list[dict]:
    """The ``n`` (image, model) pairs of defective images scored lowest and of defect-free images scored highest,
    relative to each model's other class (see the module); each as {"kind", "image", "model", "seed", "score",
    "threshold", "share"} (text)."""
    labels = labels or Labels()
    found = {"defective": [], "defect-free": []}
    for order, panel in enumerate(category_panels):
        normal, defective = np.sort(panel.normal), np.sort(panel.defective)
        if not normal.size or not defective.size:
            continue  # one class only: nothing to be on the wrong side of
        scores = panel.scores["image_score"].to_numpy(dtype=np.float64)
        is_defective = panel.scores["label"].to_numpy() > 0
        # defective: share of defect-free images scoring >= it; defect-free: share of defective scoring <= it
        above = (normal.size - np.searchsorted(normal, scores, side="left")) / normal.size
        below = np.searchsorted(defective, scores, side="right") / defective.size
        paths = panel.scores["image_path"].astype(str).to_numpy()
        for score, label, share_above, share_below, path in zip(scores, is_defective, above, below, paths,
                                                                strict=True):
            if not math.isfinite(score):
                continue
            if label:
                kind, share, extreme = "defective", float(share_above), float(score)
            else:
                kind, share, extreme = "defect-free", float(share_below), -float(score)
            found[kind].append((-share, order, extreme, path, panel, float(score), share))
    rows = []
    for kind, entries in found.items():
        for *_, path, panel, score, share in sorted(entries, key=lambda entry: entry[:4])[:n]:
            rows.append({"kind": kind, "image": _image_name(path), "model": labels.model(panel.model),
                         "seed": str(panel.seed), "score": f"{score:.4g}",
                         "threshold": "–" if math.isnan(panel.threshold) else f"{panel.threshold:.4g}",
                         "share": f"{100 * share:.0f}%"})
    return rows


HARDEST_NOTE = ("Per category, the (image, model) pairs most on the wrong side: defective images scored lowest, "
                "defect-free images scored highest. Scores of different models are on different scales, so pairs "
                "are ranked by the share of the model's other class the image is on the wrong side of (defective: "
                "defect-free images scoring at least as high; defect-free: defective images scoring at most as "
                "high). One seed per model (its first that succeeded); threshold: the row's F1-optimal one.")
