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
