"""An installed iadbench works without a checkout: the built wheel, installed into a fresh virtual
environment outside the repository, validates a config, renders a report and writes a publish folder from
its own package data (templates, schema; importlib.resources)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from iadbench.results.rows import make_row

pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment (~30 s)

# Run inside the fresh environment, from a folder outside the checkout.
SCRIPT = r"""
import json, sys
from pathlib import Path

import iadbench
from iadbench.config.load import SCHEMA_PATH, validate_config
from iadbench.config.base import Job
from iadbench.report.render import build_report
from iadbench.serve.publish import publish_run

here = Path.cwd()
assert Path(iadbench.__file__).is_relative_to(Path(sys.prefix)), iadbench.__file__
results, config, benchmark = sys.argv[1:4]
config = validate_config(json.loads(Path(config).read_text()), SCHEMA_PATH)
config["publish"] = {"jobs": "best", "metric": "image_AUROC", "namespace": None, "dataset_repo": "results",
                     "repo_prefix": "iadbench", "license": "cc-by-nc-sa-4.0", "pretty_name": "tiny"}
build_report(benchmark_path=benchmark, template_dir=None, html_path=here / "report" / "index.html",
             tex_path=here / "report" / "tables.tex", title="installed", config=config)
publish_run(results_dir=results, benchmark_path=benchmark, config=config,
            jobs=[Job("embedded", "washer", "padim", 0)], out_dir=here / "publish", now="today")
print(iadbench.__file__)
"""


def build_wheel(repo_root: Path, tmp_path: Path) -> Path:
    """The wheel of a copy of the package (links resolved, so the checkout gets no build/ folder)."""
    source = tmp_path / "source"
    shutil.copytree(repo_root / "src", source / "src", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(repo_root / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True)
    (wheel,) = (tmp_path / "dist").glob("iadbench-*.whl")
    return wheel


def fresh_environment(tmp_path: Path, wheel: Path) -> Path:
    """A virtual environment with the wheel installed; the test environment's third-party packages are
    visible through a .pth file (torch etc. need no download), its editable iadbench is not."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # Added after the venv's own site-packages: the wheel's iadbench comes first; .pth files in these
    # folders (the editable install's finder) are not run, since they are not site directories.
    Path(purelib, "test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    str(wheel)], check=True)
    return python


def test_the_installed_wheel_renders_a_report_and_a_publish_folder(repo_root, trained_job, tmp_path):
    wheel = build_wheel(repo_root, tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "iadbench/report/templates/index.html.j2" in names and "iadbench/config/config.schema.yaml" in names
    python = fresh_environment(tmp_path, wheel)
    results, config = trained_job
    benchmark = tmp_path / "benchmark.parquet"
    make_row({"dataset": "embedded", "category": "washer", "model": "padim", "seed": 0, "status": "ok",
              "image_AUROC": 0.75, "pixel_AUROC": 0.5, "pixel_AUPRO": 0.4, "weights": "random",
              "finished_at": pd.Timestamp("2026-01-01", tz="UTC"), "anomalib_version": "2.7.0",
              "torch_version": "2", "iadbench_version": "0.1.0", "git_commit": "abc", "config_hash": "abc"}
             ).to_parquet(benchmark)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({key: config[key] for key in ("datasets", "models", "seeds", "image_size",
                                                                     "weights")}))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(python), "-c", SCRIPT, str(results), str(config_path), str(benchmark)],
                          check=False, cwd=outside, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(done.stdout.strip()).is_relative_to(tmp_path / "venv")
    assert "installed" in (outside / "report" / "index.html").read_text()
    assert (outside / "report" / "tables.tex").stat().st_size > 0
    card = (outside / "publish" / "models" / "embedded-washer-padim-0" / "README.md").read_text()
    assert "image_AUROC" in card and (outside / "publish" / "dataset" / "README.md").exists()
    command = subprocess.run([str(python.parent / "iadbench"), "--help"], cwd=outside, env=environment,
                             capture_output=True, text=True, check=False)
    assert command.returncode == 0 and "predict" in command.stdout
