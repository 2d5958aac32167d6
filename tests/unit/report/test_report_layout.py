"""The HTML report as a reader sees it, laid out by real Chromium at 1400 x 900: no text box over another, every
table-of-contents link lands, the first summary on the first screen, no paragraph said over and over."""

import json
import re
import shutil
import subprocess
from collections import Counter

import pandas as pd
import pytest
from test_report import frame

from iadbench.report.render import render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1400, 900

# Run after layout; writes what the test reads into the DOM that --dump-dom prints (only in the test's copy).
PROBE = """<script>
window.addEventListener("load", () => {
  const boxes = [...document.querySelectorAll("p, h1, h2, h3, h4, caption, table")];
  const report = {
    boxes: boxes.map((element, index) => {
      const r = element.getBoundingClientRect();
      // Inside a closed <details> a box keeps a size but is not drawn: it covers nothing.
      const shown = element.checkVisibility ? element.checkVisibility({contentVisibilityAuto: true}) : true;
      return {index, tag: element.tagName, text: element.textContent.trim().slice(0, 60),
              x: r.left + scrollX, y: r.top + scrollY, w: shown ? r.width : 0, h: shown ? r.height : 0,
              ancestors: boxes.flatMap((other, j) => other !== element && other.contains(element) ? [j] : [])};
    }),
    links: [...document.querySelectorAll("nav#toc a")].map(a => ({href: a.getAttribute("href"),
      found: a.getAttribute("href").startsWith("#") && !!document.getElementById(a.getAttribute("href").slice(1))})),
    summary: (() => { const s = document.querySelector("table.summary");
                      return s ? s.getBoundingClientRect().top + scrollY : null; })(),
    paragraphs: [...document.querySelectorAll("p")].map(p => p.textContent.trim()),
  };
  const out = document.createElement("pre");
  out.id = "layout-probe";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
</script>"""


def report_frame() -> pd.DataFrame:
    """Two datasets, three models, four categories, two seeds; in the second a failed cell and a partial one."""
    rows = [(model, category, seed, "ok", 0.5 + 0.1 * index + 0.01 * seed + 0.02 * number, 0.6 + 0.05 * index)
            for index, model in enumerate(("padim", "dfm", "patchcore"))
            for number, category in enumerate(("washer", "grass", "brick", "gravel")) for seed in (0, 1)]
    first = frame(rows)
    second = frame([(*row[:3], "failed" if row[0] == "dfm" and row[1] == "washer"
                     or (row[0] == "padim" and row[1] == "grass" and row[2] == 1) else "ok", *row[4:])
                    for row in rows])
    second["dataset"] = "second"
    return pd.concat([first, second], ignore_index=True)


def laid_out(html: str, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    page = tmp_path / "index.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"))
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=5000", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False)


def overlaps(boxes: list[dict]) -> list[tuple[str, str]]:
    """Pairs of visible boxes that cover each other (neither inside the other in the page's structure)."""
    visible = [box for box in boxes if box["w"] > 0 and box["h"] > 0]
    found = []
    for i, a in enumerate(visible):
        for b in visible[i + 1:]:
            if a["index"] in b["ancestors"] or b["index"] in a["ancestors"]:
                continue
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:  # a pixel of rounding is not an overlap
                found.append((f"{a['tag']} {a['text']!r}", f"{b['tag']} {b['text']!r}"))
    return found


def assert_reads_cleanly(html: str, tmp_path) -> dict:
    """Lay ``html`` out in Chromium and check what a reader trips over: overlapping boxes, TOC links that land
    nowhere, a summary below the first screen, a paragraph said more than twice. Returns the probe's report."""
    print(f"page weight: {len(html.encode()) / 1024:.0f} KiB")
    result = laid_out(html, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-3000:]
    probe = re.search(r'<pre id="layout-probe">(.*?)</pre>', result.stdout, re.DOTALL)
    assert probe, "the probe did not run"
    report = json.loads(probe.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    assert len(report["boxes"]) > 20
    assert not overlaps(report["boxes"])
    assert report["links"] and all(link["found"] for link in report["links"]), report["links"]
    assert report["summary"] is not None and report["summary"] < HEIGHT, report["summary"]
    repeated = {text: n for text, n in Counter(report["paragraphs"]).items() if n > 2}
    assert not repeated, repeated
    return report


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")
def test_report_reads_cleanly_in_chromium(repo_root, tmp_path):
    html = render_html(report_frame(), repo_root / "src" / "iadbench" / "report" / "templates", "layout test",
                       {"seeds": [0, 1]})
    assert_reads_cleanly(html, tmp_path)
    names = re.sub(r"<[^>]+>", " ", re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html))
    assert not re.search(r"iadbench\.\w|\w+\.\w+_\w+\(|combine_seed_intervals", names)


def test_the_probe_sees_overlapping_notes():
    """The overlap check would have caught the notes pulled up over each other (margin-top: -1.5em)."""
    note = {"tag": "P", "text": "", "x": 0, "w": 500, "h": 20, "ancestors": []}
    assert overlaps([{**note, "index": 0, "y": 100}, {**note, "index": 1, "y": 110}])
    assert not overlaps([{**note, "index": 0, "y": 100}, {**note, "index": 1, "y": 120}])
    assert not overlaps([{**note, "index": 0, "y": 100}, {**note, "index": 1, "y": 110, "ancestors": [0]}])


def test_summary_is_computed_from_the_tables():
    from iadbench.report.labels import Labels
    from iadbench.report.summary import INCOMPLETE, dataset_summary
    from iadbench.report.tables import report_tables

    rows, labels = report_frame(), Labels()
    tables = report_tables(rows, labels)
    first = dict(dataset_summary(rows, "embedded", tables, labels).rows)
    assert [cell.text for cell in first["PatchCore"]] == ["73.50", "70.00", "1.00"]  # means of 70.5..76.5; rank
    assert first["PatchCore"][0].bold and not first["PaDiM"][0].bold
    second = dataset_summary(rows, "second", tables, labels)
    assert dict(second.rows)["PaDiM"][0].text == INCOMPLETE and INCOMPLETE in second.verdict


def test_a_note_under_more_than_two_tables_is_said_once_in_the_legend():
    from iadbench.report.legend import split_notes
    from iadbench.report.tables import Table

    note, own = "‡ not computed: no replicates.", "Not tested (no marking): Screw: one class only."
    tables = [Table(dataset, metric, title, columns=[], notes=[note] if metric != "image_AUROC" else [])
              for dataset in ("a", "b") for metric, title in (("image_AUROC", "Image AUROC"), ("pixel_AP", "Pixel AP"),
                                                              ("pixel_F1_max", "Pixel F1-max"))]
    tables[1].notes.append(own)
    shared, per_table = split_notes(tables)
    assert shared == [f"Pixel AP, Pixel F1-max tables: {note}"]
    assert per_table[tables[1].label] == [own] and not any(per_table[table.label] for table in tables[2:])
    assert split_notes(tables[:2])[0] == []  # under two tables: stays under them


def test_rows_without_weights_finished_at_or_error_columns_still_render(repo_root):
    rows = report_frame().drop(columns=["weights", "finished_at", "error_type", "error_tail"])
    html = render_html(rows, repo_root / "src" / "iadbench" / "report" / "templates", "bare rows", with_figures=False)
    assert '<table class="summary"' in html and "Random weights" not in html and "run dates" not in html
