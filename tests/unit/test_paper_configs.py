"""The two paper configs: the study's grid (3 seeds) and the literature set-ups, every model buildable."""

import pytest

from iadbench.config.base import jobs
from iadbench.config.load import load_config

CONFIGS = ("paper.yaml", "literature.yaml")


@pytest.mark.parametrize("name", CONFIGS)
def test_paper_configs_are_the_studys_grid_with_three_seeds(repo_root, name):
    config = load_config(repo_root / "config" / name, repo_root / "workflow" / "schemas" / "config.schema.yaml")
    assert len(jobs(config)) == 15 * 15 * 3
    assert config["weights"] == "pretrained"


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_every_model_of_the_paper_configs_builds(repo_root, name, tmp_path):
    """Each model's init_args (backbone tags, n_features, ...) are accepted by its anomalib class
    (built with random weights: no download; U-Flow and CS-Flow at their large sizes are skipped for time)."""
    from iadbench.config.base import model_image_size
    from iadbench.models.build import build_model
    from iadbench.models.random_weights import random_weights_patches

    config = load_config(repo_root / "config" / name, repo_root / "workflow" / "schemas" / "config.schema.yaml")
    for model, spec in config["models"].items():
        if model in ("uflow", "csflow", "rkde"):
            continue
        with random_weights_patches(model):
            build_model(model, spec, model_image_size(config, model), "random", tmp_path)
