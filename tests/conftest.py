"""Shared fixtures: the repository root and a tiny generated dataset."""

from pathlib import Path

import pytest

from iadbench.datasets.embedded import EmbeddedSpec, generate

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SPEC = EmbeddedSpec(image_size=64, n_train=6, n_test_good=3, n_test_per_defect=2)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """Two embedded categories at 64 px, generated once per test session."""
    root = tmp_path_factory.mktemp("embedded")
    generate(root, ["washer", "grass"], seed=0, spec=TINY_SPEC)
    return root


@pytest.fixture(scope="session")
def trained_job(tiny_dataset, tmp_path_factory, repo_root):
    """A results folder with one trained job (embedded/washer/padim/0, random weights, 64 px, ~10 s) and
    the validated config that trained it: ``(results_dir, config)``. Shared by the predict/export tests."""
    from iadbench.config.base import Job, config_hash, train_config
    from iadbench.config.load import validate_config
    from iadbench.run.train import train_job

    config = validate_config({
        "datasets": {"embedded": {"type": "embedded", "categories": ["washer"]}},
        "models": {"padim": {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]},
                             "max_epochs": 1, "train_batch_size": 4, "eval_batch_size": 4}},
        "seeds": [0], "image_size": 64, "weights": "random",
    }, repo_root / "workflow" / "schemas" / "config.schema.yaml")
    results = tmp_path_factory.mktemp("trained") / "results"
    job = Job("embedded", "washer", "padim", 0)
    info = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim",
                     model_spec=config["models"]["padim"], seed=0, image_size=64, weights="random",
                     out_dir=results / "train" / "embedded" / "washer" / "padim" / "0",
                     extra_info={"train_config_hash": config_hash(train_config(config, job))})
    assert info["status"] == "ok", info["error_tail"]
    return results, config
