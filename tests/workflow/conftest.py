import pytest
from workflow_helpers import TINY_CONFIG, make_workdir, run_snakemake


@pytest.fixture(scope="session")
def finished_run(repo_root, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run1")
    config_path = make_workdir(repo_root, workdir, TINY_CONFIG)
    run_snakemake(workdir, config_path)
    return workdir


@pytest.fixture(scope="session")
def finished_video_run(repo_root, tmp_path_factory):
    """`config/video.yaml` (the embedded video dataset, ai_vad and fuvas, random weights) run end to end
    once per session, with 5 frames per video instead of 6 (AI-VAD costs ~10 s per clip on 2 CPU cores:
    2 training and 8 test clips here); the video track's workflow tests (rows, report section) share it."""
    import yaml

    workdir = tmp_path_factory.mktemp("video_run")
    config = yaml.safe_load((repo_root / "config" / "video.yaml").read_text())
    config["datasets"]["embedded_video"]["generator"]["frames_per_video"] = 5
    config_path = make_workdir(repo_root, workdir, config)
    run_snakemake(workdir, config_path)
    return workdir


@pytest.fixture(scope="session")
def finished_protocols_run(repo_root, tmp_path_factory):
    """`config/protocols.yaml` (miniature MVTec LOCO AD, MVTec AD 2 and Real-IAD, padim, random weights)
    run end to end once per session; the protocol tests share it."""
    import yaml

    workdir = tmp_path_factory.mktemp("protocols_run")
    config = yaml.safe_load((repo_root / "config" / "protocols.yaml").read_text())
    config["timing"]["enabled"] = False  # no protocol test reads a timing; the timing job is tested in test_workflow
    config_path = make_workdir(repo_root, workdir, config)
    run_snakemake(workdir, config_path)
    return workdir


@pytest.fixture(scope="session")
def settings_run(repo_root, tmp_path_factory):
    """`config/settings.yaml` (every setting: one-class, unified, few-shot, noisy with padim and dfkde, zero-shot
    with WinCLIP; two categories) run end to end once per session; the settings' workflow tests share it.
    Not timed: no settings test reads a timing (the timing job is tested in test_workflow)."""
    import yaml

    workdir = tmp_path_factory.mktemp("settings_run")
    config = yaml.safe_load((repo_root / "config" / "settings.yaml").read_text())
    config["timing"]["enabled"] = False
    config_path = make_workdir(repo_root, workdir, config)
    run_snakemake(workdir, config_path)
    return workdir
