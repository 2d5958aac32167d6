"""Reading a config: the schema's validation with defaults, then every section's own checks (models,
datasets, tracks, the continual and predict sections)."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from iadbench.config.base import ConfigError, check_settings, check_tracks
from iadbench.config.continual import check_continual
from iadbench.config.predict import check_predict
from iadbench.config.settings import unreadable_settings
from iadbench.datasets import dataset_categories
from iadbench.models.registry import check_init_args, resolve_class_path

# The config schema, shipped in the package (a link to workflow/schemas/config.schema.yaml in the checkout,
# which setuptools copies into the wheel): an installed iadbench validates configs without a checkout.
SCHEMA_PATH = Path(str(resources.files("iadbench.config") / "config.schema.yaml"))

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
    if bad := unreadable_settings(config):
        raise ConfigError(f"config key 'setting': {', '.join(bad)} cannot be written as a setting name "
                          "(noisy ratios have at most two decimals, e.g. 0.1 or 0.25)")
    check_tracks(config)
    check_settings(config)
    check_continual(config)
    check_predict(config)
    config["retry_failed"] = config["retry_failed"] in (True, "true")  # `--config` passes text
    return config


def load_config(path: str | Path, schema_path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it."""
    with open(path) as handle:
        return validate_config(yaml.safe_load(handle) or {}, schema_path)
