"""Model registry: config names (anomalib's snake case) → classes, and model construction.

A config names a model by its registry name, or by any name with an explicit ``class_path``.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from iadbench.models.assets import ASSET_DIR
from iadbench.models.specs import (
    MODEL_SPECS,
    STUDY_MODELS,
    spec_for_class,
    spec_of,
    train_mem_mb,
    train_runtime_minutes,
)

__all__ = ["MODEL_CLASS_PATHS", "MODEL_SPECS", "STUDY_MODELS", "build_model", "import_class", "is_video_model",
           "resolve_class_path", "spec_for_class", "spec_of", "train_mem_mb", "train_runtime_minutes"]

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


# Output stride of each stage of torchvision/timm ResNets (resnet*, wide_resnet*, resnext*).
RESNET_LAYER_STRIDES = {"layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}


def resnet_feature_side(image_size: int, layer: str) -> int:
    """Side of a ResNet stage's feature map; each stride-2 step (padded conv or max-pool) rounds up."""
    side = image_size
    for _ in range(RESNET_LAYER_STRIDES[layer].bit_length() - 1):
        side = -(-side // 2)
    return side


def _init_arg(model_class: type, init_args: dict[str, Any], name: str) -> Any:
    """The configured value of a constructor argument, else the constructor's default."""
    if name in init_args:
        return init_args[name]
    for klass in model_class.__mro__:
        if "__init__" in vars(klass) and name in inspect.signature(klass.__init__).parameters:
            return inspect.signature(klass.__init__).parameters[name].default
    return None


def _map_layer_and_pooling(model_class: type, init_args: dict[str, Any]) -> tuple[Any, int] | None:
    """(feature layer the anomaly map comes from, pooling kernel applied to it), for models whose spec says."""
    spec = spec_for_class(model_class)
    if not spec.map_layer_argument:
        return None
    layer = _init_arg(model_class, init_args, spec.map_layer_argument)
    if isinstance(layer, list | tuple):  # several layers are upsampled to the first one's resolution
        layer = layer[0] if layer else None
    pooling = _init_arg(model_class, init_args, spec.map_pooling_argument) if spec.map_pooling_argument else 1
    return layer, pooling


def feature_map_warnings(config: dict[str, Any]) -> list[str]:
    """One message per configured model whose anomaly map would be pooled to at most 1x1 at the model's
    image size: its maps would then be constant per image and its pixel metrics meaningless.

    Judged: DFM (the map is the ``layer`` feature map average-pooled by ``pooling_kernel_size``) and
    PaDiM/PatchCore (the map has the resolution of ``layers[0]``), on ResNet backbones. Other models and
    backbones are not judged. Imports the model classes (to read constructor defaults).
    """
    from iadbench.config.base import model_image_size

    messages = []
    for name, spec in config["models"].items():
        try:
            model_class = import_class(resolve_class_path(name, spec.get("class_path")))
        except ValueError:
            continue  # validate_config or the job reports it
        init_args = spec.get("init_args") or {}
        judged = _map_layer_and_pooling(model_class, init_args)
        backbone = str(_init_arg(model_class, init_args, "backbone"))
        if judged is None or judged[0] not in RESNET_LAYER_STRIDES or not backbone.startswith(
                ("resnet", "wide_resnet", "resnext")):
            continue
        layer, kernel = judged
        image_size = model_image_size(config, name)
        side = resnet_feature_side(image_size, layer)
        pooled = side // kernel if kernel > 1 else side
        if pooled > 1:
            continue
        pooling = f", average-pooled with pooling_kernel_size={kernel} to {pooled}x{pooled}" if kernel > 1 else ""
        remedy = "a larger image_size or an earlier layer" + (" or a smaller pooling_kernel_size" if kernel > 1 else "")
        messages.append(f"models.{name}: at image_size {image_size}, {backbone} {layer} gives a {side}x{side} "
                        f"feature map{pooling}: the anomaly map is constant per image and its pixel metrics "
                        f"meaningless (use {remedy})")
    return messages


def build_model(name: str, spec: dict[str, Any], image_size: int, weights: str,
                asset_dir: str | Path = ASSET_DIR):
    """Instantiate an anomalib model that returns raw (unnormalised) scores and anomaly maps.

    With ``weights: random`` the constructor arguments are adjusted (no pretrained backbones, local
    anomaly-source textures in ``asset_dir``); build and train inside
    :func:`iadbench.models.random_weights.random_weights_patches` so that nothing is downloaded.
    """
    from anomalib.post_processing import PostProcessor

    from iadbench.models.random_weights import (
        check_image_size,
        configure_pre_processor,
        image_size_init_args,
        random_weights_init_args,
    )

    model_class = import_class(resolve_class_path(name, spec.get("class_path")))
    check_image_size(model_class, image_size)
    args = dict(spec.get("init_args", {}))
    if weights == "random":
        args = random_weights_init_args(name, model_class, args, asset_dir)
    else:
        from iadbench.models.assets import pretrained_init_args

        args = pretrained_init_args(model_class, args, asset_dir)
    args = image_size_init_args(model_class, args, image_size)
    # Raw scores: anomalib's min-max normalisation clips to [0, 1], which creates ties and
    # changes AUROC. Our metrics are computed from the raw outputs; anomalib's evaluator is off.
    return model_class(
        **args,
        pre_processor=configure_pre_processor(model_class, image_size),
        post_processor=PostProcessor(enable_normalization=False),
        evaluator=False,
        visualizer=False,
    )
