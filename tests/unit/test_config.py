from pathlib import Path

import pytest
import yaml

from iadbench.config import ConfigError, config_hash, job_config, jobs, load_config, validate_config
from iadbench.datasets.embedded import CATEGORIES

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def minimal() -> dict:
    return {"datasets": {"embedded": {"type": "embedded"}}, "models": {"padim": None}}


def test_defaults_are_filled():
    config = validate_config(minimal(), SCHEMA)
    assert config["seeds"] == [0]
    assert config["weights"] == "pretrained"
    assert config["models"]["padim"] == {"init_args": {}, "max_epochs": 1, "train_batch_size": 16,
                                         "eval_batch_size": 16}
    assert config["evaluation"] == {"resolution": "native", "fpr_limits": [0.3, 0.05]}
    assert config["datasets"]["embedded"]["generator"]["n_train"] == 24


def test_default_config_file_is_valid(repo_root):
    config = load_config(repo_root / "config" / "config.yaml", SCHEMA)
    assert config["weights"] == "random"
    assert len(config["models"]) >= 3
    assert len(jobs(config)) == len(CATEGORIES) * len(config["models"])


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c.update(image_sise=64), "image_sise"),
        (lambda c: c["datasets"]["embedded"].update(categoriez="all"), "datasets.embedded.categoriez"),
        (lambda c: c.update(image_size="big"), "image_size"),
        (lambda c: c.update(weights="imagenet"), "weights"),
        (lambda c: c.update(seeds=[-1]), "seeds.0"),
        (lambda c: c["models"].update(padimm={}), "models.padimm"),
        (lambda c: c["datasets"]["embedded"].update(categories=["bottle"]), "datasets.embedded.categories"),
        (lambda c: c.update(models={"padim": {"init_args": 3}}), "models.padim.init_args"),
    ],
)
def test_errors_name_the_key(change, named):
    config = minimal()
    change(config)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        validate_config(config, SCHEMA)


def test_unknown_model_with_class_path_is_accepted():
    config = minimal()
    config["models"]["my_model"] = {"class_path": "anomalib.models.Padim"}
    validate_config(config, SCHEMA)


def test_jobs_expand_categories_models_seeds():
    config = minimal()
    config["datasets"]["embedded"]["categories"] = ["washer", "brick"]
    config["models"]["dfm"] = {}
    config["seeds"] = [0, 1]
    expanded = jobs(validate_config(config, SCHEMA))
    assert len(expanded) == 2 * 2 * 2
    assert expanded[0] == ("embedded", "washer", "padim", 0)


def test_config_hash_tracks_science_not_order():
    first = validate_config(minimal(), SCHEMA)
    second = validate_config(yaml.safe_load(yaml.safe_dump(minimal())), SCHEMA)
    assert config_hash(first) == config_hash(second)
    job = jobs(first)[0]
    changed = validate_config({**minimal(), "image_size": 128}, SCHEMA)
    assert config_hash(job_config(first, job)) != config_hash(job_config(changed, job))
