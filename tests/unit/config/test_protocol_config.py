"""The operating point's config keys: defaults, validation, and which hash each part changes."""

from pathlib import Path

import pytest

from iadbench.config.base import ConfigError, Job, config_hash, job_config, train_config
from iadbench.config.load import load_config, validate_config

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


def minimal() -> dict:
    return {"datasets": {"embedded": {"type": "embedded"}}, "models": {"padim": None}}


def test_operating_point_defaults_and_bad_values():
    config = validate_config(minimal(), SCHEMA)
    assert config["operating_point"] == {"holdout_share": 0.1, "holdout_min": 1, "target_fpr": 0.05}
    with pytest.raises(ConfigError, match="operating_point.target_fpr"):
        validate_config({**minimal(), "operating_point": {"target_fpr": 1.5}}, SCHEMA)
    with pytest.raises(ConfigError, match="operating_point.holdout_share"):
        validate_config({**minimal(), "operating_point": {"holdout_share": 0.6}}, SCHEMA)
    none = validate_config({**minimal(), "operating_point": {"holdout_share": 0}}, SCHEMA)
    assert none["operating_point"] == {"holdout_share": 0, "holdout_min": 1, "target_fpr": 0.05}


def test_hold_out_retrains_target_fpr_only_re_evaluates():
    job = Job("embedded", "washer", "padim", 0)
    base = validate_config(minimal(), SCHEMA)
    other_target = validate_config({**minimal(), "operating_point": {"target_fpr": 0.01}}, SCHEMA)
    other_share = validate_config({**minimal(), "operating_point": {"holdout_share": 0.2}}, SCHEMA)
    assert config_hash(train_config(base, job)) == config_hash(train_config(other_target, job))
    assert config_hash(job_config(base, job)) != config_hash(job_config(other_target, job))
    assert config_hash(train_config(base, job)) != config_hash(train_config(other_share, job))


def test_protocols_config_is_valid(repo_root):
    config = load_config(repo_root / "config" / "protocols.yaml", SCHEMA)
    assert {spec["type"] for spec in config["datasets"].values()} == {"mvtec_loco", "mvtec_ad_2", "real_iad"}
    assert all(spec["miniature"] == {"seed": 0} for spec in config["datasets"].values())
    assert 0.05 in config["evaluation"]["fpr_limits"]  # MVTec AD 2's headline AU-PRO limit
