"""How long the report takes to rebuild from the Parquet table alone (target: < 10 s for 2,000 rows).

Prints the time for a 2,000-row table (15 models x 15 categories x 9 seeds) and, as the baseline
measured in the same run, a 20-row table; the ratio shows how rendering scales with the rows.
    python benchmarks/bench_report.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from iadbench.report.render import render_html, render_latex
from iadbench.results.rows import make_row

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "iadbench" / "report" / "templates"


def synthetic_rows(n_rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    models = [f"model_{index:02d}" for index in range(15)]
    categories = [f"category_{index:02d}" for index in range(15)]
    rows = []
    for index in range(n_rows):
        model, category = models[index % 15], categories[(index // 15) % 15]
        metrics = {name: float(rng.uniform(0.5, 1.0)) for name in
                   ("image_AUROC", "image_AP", "image_F1_max", "pixel_AUROC", "pixel_AP", "pixel_F1_max",
                    "pixel_AUPRO")}
        rows.append({"dataset": "mvtec_ad", "category": category, "model": model, "seed": index // 225,
                     "status": "ok", **metrics, "images_per_second": float(rng.uniform(5, 500)),
                     "peak_rss_mb": float(rng.uniform(500, 20000)), "weights": "pretrained",
                     "finished_at": pd.Timestamp("2026-01-01", tz="UTC")})
    return pd.concat([make_row(row) for row in rows], ignore_index=True)


def render_seconds(frame: pd.DataFrame) -> float:
    started = time.perf_counter()
    render_html(frame, TEMPLATES, "benchmark")
    render_latex(frame, TEMPLATES, "benchmark")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    render_seconds(synthetic_rows(20))  # warm-up: imports, font cache
    baseline = render_seconds(synthetic_rows(20))
    full = render_seconds(synthetic_rows(args.rows))
    print(f"report from {args.rows} rows: {full:.2f} s (target < 10 s: {'met' if full < 10 else 'MISSED'})")
    print(f"baseline, 20 rows: {baseline:.2f} s; ratio {full / baseline:.2f}x for {args.rows / 20:.0f}x the rows")


if __name__ == "__main__":
    main()
