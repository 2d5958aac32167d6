"""A config check: configured models whose anomaly map would be pooled to at most 1x1 at their image size."""

from __future__ import annotations

import inspect
from typing import Any

from iadbench.config.base import model_image_size
from iadbench.models import static
from iadbench.models.registry import import_class, resolve_class_path
from iadbench.models.specs import MODEL_SPECS, ModelSpec, spec_for_class

# Output stride of each stage of torchvision/timm ResNets (resnet*, wide_resnet*, resnext*).
RESNET_LAYER_STRIDES = {"layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}


def resnet_feature_side(image_size: int, layer: str) -> int:
    """Side of a ResNet stage's feature map; each stride-2 step (padded conv or max-pool) rounds up."""
    side = image_size
    for _ in range(RESNET_LAYER_STRIDES[layer].bit_length() - 1):
        side = -(-side // 2)
    return side


class _ModelClass:
    """A configured model's class, read from its source (:mod:`iadbench.models.static`: no anomalib/torch
    import at every Snakefile parse); imported only for what the source cannot decide."""

    def __init__(self, class_path: str) -> None:
        self.class_path = class_path
        self._class: type | None = None

    def imported(self) -> type:
        if self._class is None:
            self._class = import_class(self.class_path)
        return self._class

    def spec(self) -> ModelSpec:
        """:func:`spec_for_class` of the class."""
        specs: dict[str, ModelSpec] = {}
        for spec in MODEL_SPECS.values():
            specs.setdefault(static.defining_path(spec.class_path) or "", spec)
        paths = static.mro_paths(self.class_path)
        if paths is not None and "" not in specs:  # every registered class read: the nearest up the MRO
            spec = next((specs[path] for path in paths if path in specs), None)
            if spec is not None:
                return spec
        return spec_for_class(self.imported())

    def default(self, name: str) -> Any:
        """The first default of ``name`` up the MRO's constructors (None: none takes it)."""
        read = static.init_default(self.class_path, name)
        if read is not None:
            return read[1]
        for klass in self.imported().__mro__:
            if "__init__" in vars(klass) and name in inspect.signature(klass.__init__).parameters:
                return inspect.signature(klass.__init__).parameters[name].default
        return None


def _init_arg(model_class: _ModelClass, init_args: dict[str, Any], name: str) -> Any:
    """The configured value of a constructor argument, else the constructor's default."""
    return init_args[name] if name in init_args else model_class.default(name)


def _map_layer_and_pooling(model_class: _ModelClass, init_args: dict[str, Any]) -> tuple[Any, int] | None:
    """(feature layer the anomaly map comes from, pooling kernel applied to it), for models whose spec says."""
    spec = model_class.spec()
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
    backbones are not judged. Reads constructor defaults from the source (imports a class only when
    that cannot decide).
    """
    messages = []
    for name, spec in config["models"].items():
        init_args = spec.get("init_args") or {}
        try:
            model_class = _ModelClass(resolve_class_path(name, spec.get("class_path")))
            judged = _map_layer_and_pooling(model_class, init_args)
            backbone = str(_init_arg(model_class, init_args, "backbone")) if judged is not None else ""
        except ValueError:
            continue  # validate_config or the job reports it
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
