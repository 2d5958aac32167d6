"""Configuration: JSON-schema validation with defaults, job expansion and the config hash."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import yaml

from iadbench.datasets import dataset_categories
from iadbench.datasets.prepare import is_video
from iadbench.models import check_init_args, is_video_model, resolve_class_path
from iadbench.models.specs import VIDEO_MODELS


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the offending key."""


class Job(NamedTuple):
    dataset: str
    category: str
    model: str
    seed: int

    @property
    def path(self) -> str:
        """The job's part of every result path: ``results/<stage>/<dataset>/<category>/<model>/<seed>``."""
        return f"{self.dataset}/{self.category}/{self.model}/{self.seed}"


# Dataset, category and model names become result paths, Snakemake wildcards and report HTML.
NAME_PATTERN = "^[A-Za-z0-9_-]+$"
NAME_RULE = "names may only contain letters, digits, '_' and '-'"


def _is_integer(checker, instance) -> bool:
    # jsonschema counts 64.0 as an integer (JSON has one number type); a YAML 64.0 is a float here.
    return isinstance(instance, int) and not isinstance(instance, bool)


def _with_defaults(validator_class):
    """A validator that fills `default` values in while it validates (jsonschema FAQ recipe), with
    integers that are Python ints and patterns whose final ``$`` means the end of the string."""
    validate_properties = validator_class.VALIDATORS["properties"]
    validate_pattern = validator_class.VALIDATORS["pattern"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    def additional_with_defaults(validator, additional, instance, schema):
        # Defaults inside `additionalProperties` (e.g. each model entry) are filled too.
        if isinstance(instance, dict) and isinstance(additional, dict):
            extras = set(instance) - set(schema.get("properties", {}))
            for name in extras:
                if instance[name] is None and additional.get("type") == "object":
                    instance[name] = {}
        yield from validator_class.VALIDATORS["additionalProperties"](validator, additional, instance, schema)

    def pattern_to_the_end(validator, pattern, instance, schema):
        # Python's `$` also matches before a final newline; JSON schema's (ECMA 262) does not.
        if validator.is_type(instance, "string") and pattern.endswith("$") and instance.endswith("\n"):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")
        else:
            yield from validate_pattern(validator, pattern, instance, schema)

    return jsonschema.validators.extend(
        validator_class,
        {"properties": set_defaults, "additionalProperties": additional_with_defaults, "pattern": pattern_to_the_end},
        type_checker=validator_class.TYPE_CHECKER.redefine("integer", _is_integer),
    )


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _name_error(error: jsonschema.ValidationError) -> str | None:
    """The message for a dataset, category or model name breaking NAME_PATTERN (a category list is one
    branch of a `oneOf`, so its alternatives are searched), else None."""
    for candidate in (error, *error.context):
        if candidate.validator == "pattern" and candidate.validator_value == NAME_PATTERN:
            if "propertyNames" in candidate.absolute_schema_path:  # a key of `datasets` or `models`
                return f"config key '{_key_path(candidate)}.{candidate.instance}': {NAME_RULE}"
            return f"config key '{_key_path(candidate)}' ({candidate.instance!r}): {NAME_RULE}"
    return None


def validate_config(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Validate ``config`` in place against the schema, fill defaults, and check model names and each
    model's ``init_args`` against its constructor (imports the classes of models that have init_args).

    Raises :class:`ConfigError` naming the key (``models.padimm``, ``image_size``…) on failure.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        error = errors[0]
        if error.validator == "additionalProperties":
            unexpected = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            where = _key_path(error)
            keys = ", ".join(f"{where}.{key}" if error.absolute_path else key for key in unexpected)
            raise ConfigError(f"config: unknown key(s) {keys}")
        raise ConfigError(_name_error(error) or f"config key '{_key_path(error)}': {error.message}")
    for name, spec in config["models"].items():
        try:
            resolve_class_path(name, spec.get("class_path"))
            check_init_args(name, spec)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    for name, spec in config["datasets"].items():
        try:
            dataset_categories(spec)
        except ValueError as error:  # mvtec_layout's errors say which key (`path:` or `categories:`)
            raise ConfigError(f"config key 'datasets.{name}.{getattr(error, 'key', 'categories')}': {error}") from None
    check_tracks(config)
    from iadbench.config.continual import check_continual  # imports this module

    check_continual(config)
    from iadbench.config.predict import check_predict  # imports this module

    check_predict(config)
    config["retry_failed"] = config["retry_failed"] in (True, "true")  # `--config` passes text
    return config


def load_config(path: str | Path, schema_path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it."""
    with open(path) as handle:
        return validate_config(yaml.safe_load(handle) or {}, schema_path)


def jobs(config: dict[str, Any]) -> list[Job]:
    """Every dataset x category x model x seed of a validated config, in a stable order; video models
    (ai_vad, fuvas, ...) pair with video datasets only, image models with image datasets only."""
    video_models = {model for model, spec in config["models"].items() if is_video_model(model, spec.get("class_path"))}
    return [
        Job(dataset, category, model, seed)
        for dataset, spec in config["datasets"].items()
        for category in dataset_categories(spec)
        for model in config["models"]
        if (model in video_models) == is_video(spec)
        for seed in config["seeds"]
    ]


def check_tracks(config: dict[str, Any]) -> None:
    """Every dataset needs a model of its track (image or video), or it would silently get no job."""
    video_models = [model for model, spec in config["models"].items() if is_video_model(model, spec.get("class_path"))]
    image_models = [model for model in config["models"] if model not in video_models]
    for name, spec in config["datasets"].items():
        if is_video(spec) and not video_models:
            raise ConfigError(f"config key 'datasets.{name}': a video dataset ({spec.get('type')}) needs a video "
                              f"model in `models` ({', '.join(VIDEO_MODELS)}); image models do not run on it")
        if not is_video(spec) and not image_models:
            raise ConfigError(f"config key 'datasets.{name}': an image dataset needs an image model in `models` "
                              f"(video models {', '.join(video_models)} do not run on it)")


def model_image_size(config: dict[str, Any], model: str) -> int:
    """The model's own ``image_size`` when it has one, else the top-level one."""
    return config["models"][model].get("image_size", config["image_size"])


def config_hash(config: dict[str, Any]) -> str:
    """A short hash of a (validated) config; rows record it so results trace back to it."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def dataset_source(spec: dict[str, Any]) -> dict[str, Any]:
    """A dataset entry without its category list: what one category's data depends on."""
    return {key: value for key, value in spec.items() if key != "categories"}


def train_config(config: dict[str, Any], job: Job) -> dict[str, Any]:
    """What can change one job's trained model and predictions: editing anything else (another model,
    another category in `categories:`, another seed) redoes nothing of this job."""
    return {
        "dataset": dataset_source(config["datasets"][job.dataset]),
        "category": job.category,
        "model": {job.model: config["models"][job.model]},
        "seed": job.seed,
        "image_size": model_image_size(config, job.model),
        "weights": config["weights"],
    }


def job_config(config: dict[str, Any], job: Job) -> dict[str, Any]:
    """What can change one job's row: its training and the evaluation settings (its hash goes in the row)."""
    return {**train_config(config, job), "evaluation": config["evaluation"], "timing": config["timing"]}
