"""How long the report takes to rebuild (targets on 2 cores: < 10 s for the tables, < 60 s with every figure).

    python benchmarks/bench_report.py [--rows 2000]
        the tables from a synthetic 2,000-row Parquet table alone (15 models x 15 categories x 9 seeds), beside a
        20-row baseline measured in the same run: the ratio shows how rendering scales with the rows.
    python benchmarks/bench_report.py --paper-scale OUT_DIR
        writes a paper-scale results tree (iadbench.report.paper_scale: 5 datasets, their categories, the study's
        15 models, 3 seeds, per-image scores, replicates, gallery strips) under OUT_DIR/results, times the report
        from it with the tables only and with every figure, and leaves the full report in OUT_DIR/index.html.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from iadbench.report.paper_scale import write_paper_tree
from iadbench.report.render import (
    build_report,
    html_pages,
    latex_texts,
    render_html,
    render_latex,
    report_context,
)
from iadbench.results.rows import make_rows, read_rows
from iadbench.stats.evidence import read_evidence

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
    return make_rows(rows)


def render_seconds(frame: pd.DataFrame) -> float:
    started = time.perf_counter()
    render_html(frame, TEMPLATES, "benchmark")
    render_latex(frame, TEMPLATES, "benchmark")
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the figure workers, pdflatex)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def verdict(seconds: float, target: float) -> str:
    return f"{seconds:.2f} s (target < {target:.0f} s: {'met' if seconds < target else 'MISSED'})"


def paper_scale(out_dir: Path) -> None:
    started = time.perf_counter()
    tree = write_paper_tree(out_dir)
    print(f"paper-scale tree: {len(tree.score_paths)} jobs, {len(tree.gallery_paths)} gallery strips under "
          f"{out_dir / 'results'} ({time.perf_counter() - started:.1f} s)")
    title = tree.config["report"]["title"]
    started, cpu = time.perf_counter(), cpu_seconds()  # the tables alone: rows and evidence read, tables
    frame = read_rows([tree.benchmark_path])                  # tested, HTML pages and LaTeX
    evidence = read_evidence(tree.score_paths, tree.bootstrap_paths)
    context = report_context(frame, title, tree.config, evidence=evidence)
    pages = html_pages(context, TEMPLATES)
    latex_texts(context, TEMPLATES)
    tables = time.perf_counter() - started
    print(f"tables only: {verdict(tables, 10)}, {cpu_seconds() - cpu:.2f} s CPU; {len(pages)} HTML pages")
    started, cpu = time.perf_counter(), cpu_seconds()
    build_report(benchmark_path=tree.benchmark_path, template_dir=TEMPLATES, html_path=out_dir / "index.html",
                 tex_path=out_dir / "tables.tex", title=title, config=tree.config, gallery_paths=tree.gallery_paths,
                 score_paths=tree.score_paths, bootstrap_paths=tree.bootstrap_paths)
    full = time.perf_counter() - started
    cpu = cpu_seconds() - cpu  # on a shared machine wall time overstates: this is the work, on every core
    weight = sum(path.stat().st_size for path in out_dir.glob("*.html")) / 2**20
    print(f"with every figure (the report rule's work, paper.tex included): {verdict(full, 60)}, {cpu:.2f} s CPU in all processes")
    print(f"open {out_dir / 'index.html'} ({weight:.1f} MiB of HTML in {len(list(out_dir.glob('*.html')))} pages)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--paper-scale", type=Path, metavar="OUT_DIR",
                        help="write a paper-scale results tree and its report under OUT_DIR and time it")
    args = parser.parse_args()
    if args.paper_scale:
        paper_scale(args.paper_scale)
        return
    render_seconds(synthetic_rows(20))  # warm-up: imports, font cache
    baseline = render_seconds(synthetic_rows(20))
    full = render_seconds(synthetic_rows(args.rows))
    print(f"report from {args.rows} rows: {verdict(full, 10)}")
    print(f"baseline, 20 rows: {baseline:.2f} s; ratio {full / baseline:.2f}x for {args.rows / 20:.0f}x the rows")


if __name__ == "__main__":
    main()
