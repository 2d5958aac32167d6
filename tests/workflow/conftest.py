import pytest
from workflow_helpers import TINY_CONFIG, make_workdir, run_snakemake


@pytest.fixture(scope="session")
def finished_run(repo_root, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run1")
    config_path = make_workdir(repo_root, workdir, TINY_CONFIG)
    run_snakemake(workdir, config_path)
    return workdir
