"""Model registry: config names (anomalib's snake case) → classes, and model construction.

A config names a model by its registry name, or by any name with an explicit ``class_path``.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from iadbench.assets import ASSET_DIR

# The 15 models of the study first, then anomalib 2.7's other image models. RKDE is ours.
MODEL_CLASS_PATHS: dict[str, str] = {
    "cfa": "anomalib.models.Cfa",
    "cflow": "anomalib.models.Cflow",
    "csflow": "anomalib.models.Csflow",
    "dfkde": "anomalib.models.Dfkde",
    "dfm": "anomalib.models.Dfm",
    "fastflow": "anomalib.models.Fastflow",
    "rkde": "iadbench.models.rkde.Rkde",
    "draem": "anomalib.models.Draem",
    "dsr": "anomalib.models.Dsr",
    "ganomaly": "anomalib.models.Ganomaly",
    "padim": "anomalib.models.Padim",
    "patchcore": "anomalib.models.Patchcore",
    "reverse_distillation": "anomalib.models.ReverseDistillation",
    "stfpm": "anomalib.models.Stfpm",
    "uflow": "anomalib.models.Uflow",
    "anomaly_dino": "anomalib.models.AnomalyDINO",
    "anomaly_vfm": "anomalib.models.AnomalyVFM",
    "dinomaly": "anomalib.models.Dinomaly",
    "efficient_ad": "anomalib.models.EfficientAd",
    "found_ad": "anomalib.models.FoundAD",
    "fre": "anomalib.models.Fre",
    "general_ad": "anomalib.models.GeneralAD",
    "glass": "anomalib.models.Glass",
    "inp_former": "anomalib.models.InpFormer",
    "l2bt": "anomalib.models.L2BT",
    "mh_patchcore": "anomalib.models.MHPatchcore",
    "patchflow": "anomalib.models.Patchflow",
    "rad": "anomalib.models.Rad",
    "super_add": "anomalib.models.SuperADD",
    "supersimplenet": "anomalib.models.Supersimplenet",
    "uninet": "anomalib.models.UniNet",
    "vlm_ad": "anomalib.models.VlmAd",
    "winclip": "anomalib.models.WinClip",
}
STUDY_MODELS = tuple(list(MODEL_CLASS_PATHS)[:15])

# Cluster requests for paper-size training (256 px, full MVTec AD categories, pretrained backbones):
# memory class → RAM in MB; model → (memory class, runtime in minutes). Memory-bank models keep every
# training patch's features in RAM before subsampling; long-schedule models train hundreds of epochs.
MEMORY_CLASS_MB = {"memory-bank": 48_000, "standard": 16_000}
MODEL_RESOURCES: dict[str, tuple[str, int]] = {
    "patchcore": ("memory-bank", 60), "padim": ("memory-bank", 30), "cfa": ("memory-bank", 120),
    "dfkde": ("memory-bank", 30), "rkde": ("memory-bank", 60), "dfm": ("memory-bank", 30),
    "mh_patchcore": ("memory-bank", 60), "anomaly_dino": ("memory-bank", 60),
    "csflow": ("standard", 480), "reverse_distillation": ("standard", 480), "draem": ("standard", 720),
    "dsr": ("standard", 720), "efficient_ad": ("standard", 480), "stfpm": ("standard", 240),
}
DEFAULT_RESOURCES = ("standard", 180)


def train_mem_mb(model: str, attempt: int = 1) -> int:
    """RAM to ask the scheduler for; grows with each retry."""
    memory_class, _ = MODEL_RESOURCES.get(model, DEFAULT_RESOURCES)
    return MEMORY_CLASS_MB[memory_class] * attempt


def train_runtime_minutes(model: str, attempt: int = 1) -> int:
    """Wall time to ask the scheduler for; grows with each retry."""
    _, minutes = MODEL_RESOURCES.get(model, DEFAULT_RESOURCES)
    return minutes * attempt


def resolve_class_path(name: str, class_path: str | None = None) -> str:
    """The class path of a configured model; an unknown name without ``class_path`` is an error."""
    if class_path:
        return class_path
    if name not in MODEL_CLASS_PATHS:
        known = ", ".join(sorted(MODEL_CLASS_PATHS))
        raise ValueError(f"config key 'models.{name}': unknown model {name!r} (known: {known}; "
                         "or give 'class_path')")
    return MODEL_CLASS_PATHS[name]


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
    """(feature layer the anomaly map comes from, pooling kernel applied to it), for the models judged."""
    class_names = {klass.__name__ for klass in model_class.__mro__}
    if "Dfm" in class_names:
        return _init_arg(model_class, init_args, "layer"), _init_arg(model_class, init_args, "pooling_kernel_size")
    if class_names & {"Padim", "Patchcore"}:
        # Both upsample every layer to the first one's resolution.
        layers = list(_init_arg(model_class, init_args, "layers") or [None])
        return layers[0], 1
    return None


def feature_map_warnings(config: dict[str, Any]) -> list[str]:
    """One message per configured model whose anomaly map would be pooled to at most 1x1 at the model's
    image size: its maps would then be constant per image and its pixel metrics meaningless.

    Judged: DFM (the map is the ``layer`` feature map average-pooled by ``pooling_kernel_size``) and
    PaDiM/PatchCore (the map has the resolution of ``layers[0]``), on ResNet backbones. Other models and
    backbones are not judged. Imports the model classes (to read constructor defaults).
    """
    from iadbench.config import model_image_size

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
        from iadbench.assets import pretrained_init_args

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
