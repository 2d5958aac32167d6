"""The tiny config through `--profile profiles/slurm` on a one-node SLURM cluster started here.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge (`.ci/run` installs them);
skipped with a message where they are absent.
"""

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from workflow_helpers import TINY_CONFIG, make_workdir, run_snakemake

SLURM_TOOLS = ("slurmctld", "slurmd", "sbatch", "squeue", "munged")
missing = [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing), reason=f"SLURM not installed ({', '.join(missing)} missing): "
                       "apt-get install slurmctld slurmd slurm-client munge"),
    pytest.mark.skipif(os.geteuid() != 0, reason="starting a SLURM cluster needs root"),
]
CLUSTER = Path(__file__).resolve().parents[1] / "slurm" / "cluster.sh"
# The profile's placeholders and cluster-sized requests, overridden for the one-node test cluster.
LOCAL_OVERRIDE = [
    "--default-resources", "slurm_partition=debug", "mem_mb=1500", "runtime=20", "cpus_per_task=1",
    "--set-resources", "train:gpu=0", "train:mem_mb=3000", "train:cpus_per_task=2",
    "timing:gpu=0", "timing:mem_mb=3000",
    "--slurm-no-account", "--slurm-init-seconds-before-status-checks", "2", "--jobs", "4",
    # The local run's training threads (the profile's 4 follow a cluster node's cores; this node has 2).
    "--set-threads", "train=1", "timing=1",
]


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm")
    subprocess.run(["bash", str(CLUSTER), "start", str(state)], check=True, timeout=120)
    yield state
    subprocess.run(["bash", str(CLUSTER), "stop", str(state)], check=False, timeout=60)


# The tiny config on one of its categories (half the jobs through sbatch, the same claim), run locally
# too: the test needs no other test's run, so it is its own unit of work under pytest-xdist.
SLURM_CATEGORIES = ["washer"]


def test_slurm_run_equals_local_run(slurm_cluster, repo_root, tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"]["embedded"]["categories"] = SLURM_CATEGORIES
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    local_dir.mkdir()
    slurm_dir.mkdir()
    run_snakemake(local_dir, make_workdir(repo_root, local_dir, config), targets=("results/benchmark.parquet",))
    config_path = make_workdir(repo_root, slurm_dir, config)
    before = set(subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True)
                 .stdout.split())
    result = run_snakemake(slurm_dir, config_path, "--profile", "profiles/slurm", *LOCAL_OVERRIDE,
                           targets=("results/benchmark.parquet",), timeout=1500)
    assert "sbatch" in result.stdout + result.stderr or "SLURM" in result.stdout + result.stderr
    jobs = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i %j %T"], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    submitted = [line for line in jobs if line.split()[0] not in before]
    # Each job (1 category x 2 models): train, timing and evaluate went through sbatch; local rules did not.
    assert len(submitted) >= 3 * len(SLURM_CATEGORIES) * len(config["models"]), jobs
    metrics = ["image_AUROC", "image_AP", "pixel_AUROC", "pixel_AP", "pixel_AUPRO"]
    on_slurm = pd.read_parquet(slurm_dir / "results" / "benchmark.parquet").set_index(["category", "model"])
    local = pd.read_parquet(local_dir / "results" / "benchmark.parquet").set_index(["category", "model"])
    assert len(on_slurm) == len(local) == len(SLURM_CATEGORIES) * len(config["models"])
    pd.testing.assert_frame_equal(on_slurm[metrics].sort_index(), local[metrics].sort_index())
