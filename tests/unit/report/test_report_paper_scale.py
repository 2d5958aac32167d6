"""The report at paper scale (5 datasets, their categories, the study's 15 models, 3 seeds: the synthetic tree of
iadbench.report.paper_scale), laid out by real Chromium at 1400 x 900: split into an index and one page per
dataset, each page with no text box over another, every table-of-contents link landing (on its page or another),
the summary on the first screen, no paragraph said over and over; page weights printed. Figures are left out
(the layout of text is what is checked; benchmarks/bench_report.py times and writes the full report)."""

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_layout import CHROMIUM, HEIGHT, laid_out, overlaps

from iadbench.report.labels import labels_for
from iadbench.report.paper_scale import DATASETS, MODELS, SEEDS, write_paper_tree
from iadbench.report.render import gallery_items, report_html_pages
from iadbench.results.rows import read_rows
from iadbench.stats.evidence import read_evidence
from iadbench.stats.jackknife import load_jackknife


@pytest.fixture(scope="module")
def paper_pages(tmp_path_factory, repo_root) -> tuple[Path, dict[str, str]]:
    """The paper-scale tree and its report's HTML pages, written beside each other (links resolve)."""
    root = tmp_path_factory.mktemp("paper-scale")
    tree = write_paper_tree(root)
    frame = read_rows([tree.benchmark_path])
    labels = labels_for(frame["model"], tree.config)
    pages = report_html_pages(frame, repo_root / "src" / "iadbench" / "report" / "templates", "paper scale",
                              tree.config, with_figures=False, evidence=read_evidence(tree.score_paths,
                                                                                      tree.bootstrap_paths),
                              gallery=gallery_items(tree.gallery_paths, labels))
    site = root / "report"
    site.mkdir()
    for name, html in pages.items():
        (site / name).write_text(html)
    return site, pages


def test_the_fixture_is_paper_scale(tmp_path, paper_pages):
    site, pages = paper_pages
    frame = read_rows([site.parent / "results" / "benchmark.parquet"])
    assert frame["dataset"].nunique() == len(DATASETS) == 5 and frame["model"].nunique() == len(MODELS) == 15
    assert sorted(frame["seed"].unique()) == list(SEEDS) and len(frame) == 2070
    assert (frame["status"] == "ok").sum() == 2066  # the fixture's four failed jobs: one partial, one failed cell
    assert len(list((site.parent / "results" / "evaluate").glob("*/*/*/*/scores.parquet"))) == 2070
    assert set(pages) == {"index.html", *(f"dataset-{name.replace('_', '-')}.html" for name in DATASETS)}
    # The pixel metrics' leave-one-image-out values, as evaluation keeps them: the pixel tables use the jackknife
    # test, not the older files' bootstrap fall-back (whose note would say "older files").
    job = site.parent / "results" / "evaluate" / "mvtec_ad" / "bottle" / "patchcore" / "0"
    left_out = load_jackknife(job / "bootstrap.npz")
    scores = pd.read_parquet(job / "scores.parquet")
    assert left_out is not None and {"pixel_AUROC", "pixel_AP", "pixel_AUPRO"} <= set(left_out.names)
    assert list(left_out.keys) == sorted(scores["image_path"]) and left_out.values.shape[0] == len(scores)
    assert np.array_equal(left_out.strata, scores.sort_values("image_path")["label"].to_numpy() > 0)
    assert not any("older files" in html for html in pages.values())
    again = write_paper_tree(tmp_path)  # seeded: the same tree again
    assert read_rows([again.benchmark_path]).drop(columns="finished_at").equals(frame.drop(columns="finished_at"))


def probe(site: Path, name: str, tmp_path: Path) -> dict:
    result = laid_out((site / name).read_text(), tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-3000:]
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', result.stdout, re.DOTALL)
    assert found, "the probe did not run"
    return json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def lands(site: Path, href: str) -> bool:
    """A link to another page of the report: the page exists, and so does the element its fragment names."""
    page, _, fragment = href.partition("#")
    target = site / page
    return target.is_file() and (not fragment or f'id="{fragment}"' in target.read_text())


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")
@pytest.mark.parametrize("name", ["index.html", "dataset-mvtec-ad.html"])
def test_paper_scale_pages_read_cleanly_in_chromium(paper_pages, name, tmp_path):
    site, pages = paper_pages
    print(f"page weight of {name}: {len(pages[name].encode()) / 1024:.0f} KiB "
          f"(all pages: {sum(len(html.encode()) for html in pages.values()) / 1024:.0f} KiB)")
    report = probe(site, name, tmp_path)
    assert len(report["boxes"]) > 20
    assert not overlaps(report["boxes"])
    links = report["links"]
    assert links and all(link["found"] or (not link["href"].startswith("#") and lands(site, link["href"]))
                         for link in links), [link for link in links if not link["found"]]
    assert report["summary"] is not None and report["summary"] < HEIGHT, report["summary"]
    repeated = {text: n for text, n in Counter(report["paragraphs"]).items() if n > 2}
    assert not repeated, repeated
    if name == "index.html":  # short: every dataset's summary and a link to its page, no per-category table
        assert len(pages[name].encode()) < 1_000_000
        assert pages[name].count('<table class="summary"') == 5 and '<table class="metric"' not in pages[name]
        assert all(f'href="dataset-{dataset.replace("_", "-")}.html"' in pages[name] for dataset in DATASETS)
    else:
        assert pages[name].count('<table class="metric"') == 8 and 'href="index.html"' in pages[name]
    assert "http://" not in pages[name] and "https://" not in pages[name]  # self-contained
