"""The HTML report in a real browser: loads offline without console errors and shows its tables."""

import re
import shutil
import subprocess

import pytest
from test_report import frame

from iadbench.report.render import render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def report_html(repo_root) -> str:
    rows = [(model, category, seed, "ok", 0.5 + 0.1 * index + 0.01 * seed, 0.6 + 0.05 * index)
            for index, model in enumerate(("padim", "dfm", "patchcore"))
            for category in ("washer", "grass", "brick", "gravel") for seed in (0, 1)]
    return render_html(frame(rows), repo_root / "src" / "iadbench" / "report" / "templates", "browser test", {"seeds": [0, 1]})


def test_report_is_self_contained(repo_root):
    html = report_html(repo_root)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no CDN or remote asset"
    assert html.count("data:image/png;base64,") >= 5  # heatmaps, box plot, efficiency, CD diagrams


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")
def test_report_loads_in_headless_chromium(repo_root, tmp_path):
    page = tmp_path / "index.html"
    page.write_text(report_html(repo_root))
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    console_errors = [line for line in result.stderr.splitlines()
                      if "CONSOLE" in line and ("Uncaught" in line or "rror" in line)]
    assert not console_errors, console_errors
    dom = result.stdout
    assert dom.count('<table class="metric"') >= 2
    assert "Average ranks" in dom and "<b>" in dom
