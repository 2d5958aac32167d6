"""Running the workflow in a scratch directory, shared by the workflow tests."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TINY_CONFIG = {
    "datasets": {
        "embedded": {
            "type": "embedded",
            "categories": ["washer", "grass"],
            "generator": {"image_size": 64, "n_train": 8, "n_test_good": 4, "n_test_per_defect": 2},
        }
    },
    "models": {
        "padim": {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]}},
        "dfm": {"init_args": {"backbone": "resnet18", "layer": "layer2"}},
    },
    "seeds": [0],
    "image_size": 64,
    "weights": "random",
    "timing": {"batch": 4, "budget_seconds": 1},
    # Braces, LaTeX specials and a line break: report text is data, never syntax.
    "report": {"title": "tiny {workflow} test & 100% _x_\nsecond line"},
}
WORKFLOW_FILES = ("Snakefile", "workflow", "profiles", "config", "envs")


def make_workdir(repo_root: Path, workdir: Path, config: dict) -> Path:
    for name in WORKFLOW_FILES:
        source = repo_root / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, workdir / name)
    config_path = workdir / "config" / "test.yaml"
    config_path.write_text(yaml.safe_dump(config))
    return config_path


def run_snakemake(workdir: Path, config_path: Path, *extra: str, targets: tuple[str, ...] = (), check: bool = True,
                  timeout: int = 1200) -> subprocess.CompletedProcess:
    # Targets first and --configfile last: several snakemake options take a variable number of values.
    command = [sys.executable, "-m", "snakemake", *targets, "--cores", "2", *extra, "--configfile", str(config_path)]
    # `timeout -k`: a run that cannot see its jobs' status would otherwise hang.
    command = ["timeout", "-k", "30", str(timeout), *command]
    result = subprocess.run(command, check=False, cwd=workdir, capture_output=True, text=True,
                            timeout=timeout + 60)
    if check and result.returncode != 0:
        pytest.fail(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result
