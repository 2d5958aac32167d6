"""A config check: configured models whose anomaly map would be pooled to at most 1x1 at their image size."""

from __future__ import annotations

import inspect
from typing import Any

from iadbench.config.base import model_image_size
from iadbench.models.registry import import_class, resolve_class_path
from iadbench.models.specs import spec_for_class

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
