"""Model registry: config names (anomalib's snake case) → classes, and the checks of a model's ``init_args``.

A config names a model by its registry name, or by any name with an explicit ``class_path``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from iadbench.models import static
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


def init_chain(model_class: type) -> list[list[inspect.Parameter]]:
    """The ``__init__`` parameters of each class up the MRO that defines one, up to the first without
    ``**kwargs`` (a constructor passing ``**kwargs`` on lets its parents' arguments through)."""
    chain = []
    for klass in model_class.__mro__:
        if "__init__" not in vars(klass):
            continue
        chain.append(list(inspect.signature(klass.__init__).parameters.values()))
        if not any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in chain[-1]):
            break
    return chain


def chain_accepts(chain: list[list[inspect.Parameter]], name: str) -> bool:
    """Whether a constructor with this :func:`init_chain` takes ``name``."""
    return any(name in (parameter.name for parameter in parameters) for parameters in chain)


def chain_arguments(chain: list[list[inspect.Parameter]]) -> list[str]:
    """Names a constructor with this :func:`init_chain` takes by keyword."""
    names: list[str] = []
    for parameters in chain:
        names += [parameter.name for parameter in parameters[1:] if parameter.name not in names and  # without self
                  parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    return names


def accepts_argument(model_class: type, name: str) -> bool:
    """Whether the constructor takes ``name``, following ``**kwargs`` up to the parent classes."""
    return chain_accepts(init_chain(model_class), name)


# Constructor arguments build_model passes itself; the same key in init_args would clash with them.
BUILD_MODEL_ARGUMENTS = ("pre_processor", "post_processor", "evaluator", "visualizer")


def constructor_arguments(model_class: type) -> list[str]:
    """Names the constructor takes by keyword, following ``**kwargs`` up to the parent classes."""
    return chain_arguments(init_chain(model_class))


def class_signature(class_path: str) -> tuple[str, list[list[inspect.Parameter]]]:
    """(class name, :func:`init_chain`) of a class path: read from the source when it can be
    (:mod:`iadbench.models.static`: no anomalib/torch import at every Snakefile parse), else imported."""
    chain = static.init_chain(class_path)
    if chain is not None:
        return static.class_name(class_path) or class_path.rpartition(".")[2], chain
    model_class = import_class(class_path)
    return model_class.__name__, init_chain(model_class)


def check_init_args(name: str, spec: dict[str, Any]) -> None:
    """Refuse ``init_args`` keys the model's constructor does not take, before any job (a typo such as
    ``backbon`` would otherwise fail every training job of the model). Reads the constructor from the
    source (imports the class only when that cannot decide). Raises ``ValueError`` naming the config key."""
    init_args = spec.get("init_args") or {}
    if not init_args:
        return
    class_path = resolve_class_path(name, spec.get("class_path"))
    try:
        class_name, chain = class_signature(class_path)
    except ValueError as error:
        raise ValueError(f"config key 'models.{name}': {error}") from None
    for key in init_args:
        where = f"config key 'models.{name}.init_args.{key}'"
        if key in BUILD_MODEL_ARGUMENTS:
            raise ValueError(f"{where}: set by iadbench ({', '.join(BUILD_MODEL_ARGUMENTS)} are not configurable)")
        if not chain_accepts(chain, key):
            known = [argument for argument in chain_arguments(chain) if argument not in BUILD_MODEL_ARGUMENTS]
            raise ValueError(f"{where}: {class_name}() has no argument {key!r} "
                             f"(its arguments: {', '.join(known)})")


