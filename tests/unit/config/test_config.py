from pathlib import Path

import pytest
import yaml

from iadbench.config.base import ConfigError, config_hash, job_config, jobs
from iadbench.config.load import load_config, validate_config
from iadbench.datasets.embedded import CATEGORIES

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


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


NAME_RULE = "names may only contain letters, digits, '_' and '-'"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["models"].update(padim={"init_args": {"backbon": "resnet18"}}),
         ("config key 'models.padim.init_args.backbon': Padim() has no argument 'backbon' (its arguments: "
          "backbone, layers, pre_trained, n_features)")),
        (lambda c: c["models"].update(dfm={"init_args": {"pooling_kernel": 2}}),
         "config key 'models.dfm.init_args.pooling_kernel': Dfm() has no argument 'pooling_kernel'"),
        (lambda c: c["models"].update(rkde={"init_args": {"roi_stages": "rcnn"}}),
         "config key 'models.rkde.init_args.roi_stages': Rkde() has no argument 'roi_stages'"),
        (lambda c: c["models"].update(my_model={"class_path": "anomalib.models.Fastflow",
                                                "init_args": {"flow_step": 2}}),
         "config key 'models.my_model.init_args.flow_step': Fastflow() has no argument 'flow_step'"),
        (lambda c: c["models"].update(padim={"init_args": {"evaluator": True}}),
         "config key 'models.padim.init_args.evaluator': set by iadbench"),
        (lambda c: c.update(image_size=64.0), "config key 'image_size': 64.0 is not of type 'integer'"),
        (lambda c: c.update(image_size=True), "config key 'image_size': True is not of type 'integer'"),
        (lambda c: c.update(seeds=[0, 1.0]), "config key 'seeds.1': 1.0 is not of type 'integer'"),
        (lambda c: c["models"].update(padim={"max_epochs": 2.0}), "config key 'models.padim.max_epochs'"),
        (lambda c: c["datasets"]["embedded"].update(generator={"n_train": 24.0}),
         "config key 'datasets.embedded.generator.n_train'"),
        (lambda c: c["datasets"].update({"../escape": {"type": "embedded"}}),
         f"config key 'datasets.../escape': {NAME_RULE}"),
        (lambda c: c["models"].update({"<b>x</b>": {"class_path": "anomalib.models.Padim"}}),
         f"config key 'models.<b>x</b>': {NAME_RULE}"),
        (lambda c: c["models"].update({"a&b": {"class_path": "anomalib.models.Padim"}}),
         f"config key 'models.a&b': {NAME_RULE}"),
        (lambda c: c["datasets"].update({"a b": {"type": "embedded"}}), f"config key 'datasets.a b': {NAME_RULE}"),
        (lambda c: c["datasets"].update({"a\n": {"type": "embedded"}}), f"config key 'datasets.a\n': {NAME_RULE}"),
        (lambda c: c["datasets"].update(mine={"type": "folder", "normal_dir": "good", "categories": ["a b"]}),
         f"config key 'datasets.mine.categories.0' ('a b'): {NAME_RULE}"),
        (lambda c: c["datasets"]["embedded"].update(categories=["washer", "../escape"]),
         f"config key 'datasets.embedded.categories.1' ('../escape'): {NAME_RULE}"),
    ],
)
def test_errors_caught_before_any_job(change, message):
    config = minimal()
    change(config)
    with pytest.raises(ConfigError) as raised:
        validate_config(config, SCHEMA)
    assert str(raised.value).startswith(message)


def test_init_args_of_a_subclass_taking_kwargs_reach_the_parent_constructor(tmp_path, monkeypatch):
    module = tmp_path / "kwargs_models.py"
    module.write_text("from anomalib.models import Padim\n\n\nclass KwargsPadim(Padim):\n"
                      "    def __init__(self, extra: int = 0, **kwargs):\n        super().__init__(**kwargs)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = minimal()
    config["models"]["mine"] = {"class_path": "kwargs_models.KwargsPadim",
                                "init_args": {"extra": 1, "backbone": "resnet18"}}
    validate_config(config, SCHEMA)
    config["models"]["mine"]["init_args"]["backbon"] = "resnet18"
    with pytest.raises(ConfigError, match=r"'models\.mine\.init_args\.backbon': KwargsPadim\(\) has no argument"):
        validate_config(config, SCHEMA)


@pytest.mark.parametrize("name", ["bottle-2", "Screw_3", "x"])
def test_plain_names_are_accepted(name):
    config = minimal()
    config["datasets"] = {name: {"type": "folder", "normal_dir": "good", "categories": [name]}}
    config["models"] = {name: {"class_path": "anomalib.models.Padim"}}
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
    assert expanded[0] == ("embedded", "washer", "padim", 0, "one_class")


def test_config_hash_tracks_science_not_order():
    first = validate_config(minimal(), SCHEMA)
    second = validate_config(yaml.safe_load(yaml.safe_dump(minimal())), SCHEMA)
    assert config_hash(first) == config_hash(second)
    job = jobs(first)[0]
    changed = validate_config({**minimal(), "image_size": 128}, SCHEMA)
    assert config_hash(job_config(first, job)) != config_hash(job_config(changed, job))


def test_a_jobs_hash_covers_only_what_can_change_its_result():
    """Adding a category, a model or a seed redoes no existing job (its hash is unchanged)."""
    base = validate_config({"datasets": {"embedded": {"categories": ["washer"]}},
                            "models": {"padim": {}}, "seeds": [0]}, SCHEMA)
    grown = validate_config({"datasets": {"embedded": {"categories": ["washer", "grass"]}},
                             "models": {"padim": {}, "dfm": {}}, "seeds": [0, 1]}, SCHEMA)
    job = jobs(base)[0]
    assert config_hash(job_config(base, job)) == config_hash(job_config(grown, job))
    # What does change it: the model's own settings, its image size, the data's generator, the evaluation.
    for change in ({"models": {"padim": {"max_epochs": 3}}}, {"models": {"padim": {"image_size": 128}}},
                   {"datasets": {"embedded": {"categories": ["washer"], "generator": {"seed": 1}}}},
                   {"evaluation": {"fpr_limits": [0.05]}}):
        changed = validate_config({"datasets": {"embedded": {"categories": ["washer"]}}, "models": {"padim": {}},
                                   "seeds": [0], **change}, SCHEMA)
        assert config_hash(job_config(base, job)) != config_hash(job_config(changed, job)), change
