"""Model construction: a configured model → an anomalib model that returns raw scores and anomaly maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.models.assets import ASSET_DIR, cache_dir
from iadbench.models.random_weights import (
    check_image_size,
    configure_pre_processor,
    image_size_init_args,
    random_weights_init_args,
)
from iadbench.models.registry import accepts_argument, import_class, resolve_class_path


def build_model(name: str, spec: dict[str, Any], image_size: int, weights: str,
                asset_dir: str | Path = ASSET_DIR):
    """Instantiate an anomalib model that returns raw (unnormalised) scores and anomaly maps.

    With ``weights: random`` the constructor arguments are adjusted (no pretrained backbones, local
    anomaly-source textures in ``asset_dir``); build and train inside
    :func:`iadbench.models.random_weights.random_weights_patches` so that nothing is downloaded.
    """
    from anomalib.post_processing import PostProcessor  # anomalib: only where a model is built

    model_class = import_class(resolve_class_path(name, spec.get("class_path")))
    check_image_size(model_class, image_size)
    args = dict(spec.get("init_args", {}))
    if weights == "random":
        args = random_weights_init_args(name, model_class, args, asset_dir)
    else:
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


# Arguments whose anomalib default is a folder under the working directory (downloaded into when
# missing): with pretrained weights they default to the cache, so that jobs find what was fetched.
CACHED_DATA_ARGUMENTS = {"dtd_dir": "dtd", "imagenet_dir": "imagenette"}  # DRAEM, EfficientAd


def pretrained_init_args(model_class: type, init_args: dict[str, Any], asset_dir: str | Path) -> dict[str, Any]:
    """``init_args`` for ``weights: pretrained``: unset data folders point into the asset cache."""
    args = dict(init_args)
    for argument, dataset in CACHED_DATA_ARGUMENTS.items():
        if accepts_argument(model_class, argument) and argument not in args:
            args[argument] = str(cache_dir(asset_dir) / "anomalib" / "datasets" / dataset)
    return args
