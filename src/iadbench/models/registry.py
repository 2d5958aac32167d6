"""Model registry: config names (anomalib's snake case) → classes, and the checks of a model's ``init_args``.

A config names a model by its registry name, or by any name with an explicit ``class_path``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from iadbench.models.specs import MODEL_SPECS, spec_of

# The study's 15 models first, then anomalib 2.7's other image models (one spec each: models/specs.py).
MODEL_CLASS_PATHS: dict[str, str] = {name: spec.class_path for name, spec in MODEL_SPECS.items()}


def resolve_class_path(name: str, class_path: str | None = None) -> str:
    """The class path of a configured model; an unknown name without ``class_path`` is an error."""
    return class_path or spec_of(name).class_path


def is_video_model(name: str, class_path: str | None = None) -> bool:
    """Whether a configured model belongs to the video track: a registered video model (ai_vad, fuvas), or
    any class under ``anomalib.models.video`` (or a subclass of a registered video model)."""
    if not class_path:
        return name in MODEL_SPECS and MODEL_SPECS[name].video
    return class_path.startswith("anomalib.models.video.") or spec_of(name, class_path).video


def is_zero_shot_model(name: str, class_path: str | None = None) -> bool:
    """Whether a configured model needs no training image of the category (WinCLIP; the zero_shot setting): a
    registered zero-shot model, by name or by its ``class_path`` (a subclass: by its spec, importing it)."""
    if not class_path:
        return name in MODEL_SPECS and MODEL_SPECS[name].zero_shot
    return any(spec.zero_shot and spec.class_path == class_path for spec in MODEL_SPECS.values()) \
        or spec_of(name, class_path).zero_shot


def import_class(class_path: str) -> type:
    module_name, _, class_name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"cannot import model class {class_path!r}: {error}") from error


def accepts_argument(model_class: type, name: str) -> bool:
    """Whether the constructor takes ``name``, following ``**kwargs`` up to the parent classes."""
    for klass in model_class.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters
        if name in parameters:
            return True
        if not any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()):
            return False
    return False


# Constructor arguments build_model passes itself; the same key in init_args would clash with them.
BUILD_MODEL_ARGUMENTS = ("pre_processor", "post_processor", "evaluator", "visualizer")


def constructor_arguments(model_class: type) -> list[str]:
    """Names the constructor takes by keyword, following ``**kwargs`` up to the parent classes."""
    names: list[str] = []
    for klass in model_class.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]  # without self
        names += [parameter.name for parameter in parameters if parameter.name not in names and parameter.kind in
                  (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
        if not any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
            break
    return names


def check_init_args(name: str, spec: dict[str, Any]) -> None:
    """Refuse ``init_args`` keys the model's constructor does not take, before any job (a typo such as
    ``backbon`` would otherwise fail every training job of the model). Imports the model class only
    when there are init_args to check. Raises ``ValueError`` naming the config key."""
    init_args = spec.get("init_args") or {}
    if not init_args:
        return
    class_path = resolve_class_path(name, spec.get("class_path"))
    try:
        model_class = import_class(class_path)
    except ValueError as error:
        raise ValueError(f"config key 'models.{name}': {error}") from None
    for key in init_args:
        where = f"config key 'models.{name}.init_args.{key}'"
        if key in BUILD_MODEL_ARGUMENTS:
            raise ValueError(f"{where}: set by iadbench ({', '.join(BUILD_MODEL_ARGUMENTS)} are not configurable)")
        if not accepts_argument(model_class, key):
            known = [argument for argument in constructor_arguments(model_class)
                     if argument not in BUILD_MODEL_ARGUMENTS]
            raise ValueError(f"{where}: {model_class.__name__}() has no argument {key!r} "
                             f"(its arguments: {', '.join(known)})")


