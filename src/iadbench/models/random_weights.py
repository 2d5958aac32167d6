"""``weights: random``: every backbone starts from random initialisation and nothing is downloaded.

anomalib 2.7 fetches pretrained weights and auxiliary data in many places; a job running under
:func:`iadbench.core.offline.network_forbidden` fails at the first of them. This module makes the
study's models (and EfficientAd, SuperSimpleNet, GLASS, UniNet, Dinomaly) run without them:

* :func:`random_weights_init_args` adjusts a model's constructor arguments (``pre_trained=False``,
  local anomaly-source / ImageNette stand-ins from :mod:`iadbench.datasets.anomaly_source`);
* :func:`random_weights_patches`, a context manager active during construction, fit and predict,
  replaces the few anomalib/torchvision/timm call sites that load published weights by versions
  that build the same architecture with random weights (the generic ones here, the model-specific
  ones in :mod:`iadbench.models.hooks`, named by each model's spec). Each patch replaces one named attribute
  (checked to exist, so an anomalib upgrade that moves it fails loudly) and is restored on exit;
* each model's spec (:mod:`iadbench.models.specs`) names its patches and says what ``random`` changes.

The patches also close a hole the network guard leaves open: weights already in the local caches
(``~/.cache/torch/hub``, ``~/.cache/huggingface``, anomalib's ``pre_trained`` folder) would load
without any network access and silently turn a "random" run into a pretrained one. Under
:func:`random_weights_patches` every torchvision ``WeightsEnum.get_state_dict`` and
``torch.hub.load_state_dict_from_url`` call raises :class:`PretrainedWeightsForbiddenError`, and
``timm.create_model`` always builds with ``pretrained=False``.

The patches change process-wide attributes: use them in a process that trains one model at a time
(iadbench's training child does), not from several threads at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from iadbench.core.offline import DownloadForbiddenError, network_forbidden
from iadbench.datasets.anomaly_source import ensure_anomaly_source
from iadbench.models.patching import replace
from iadbench.models.registry import accepts_argument, import_class, resolve_class_path
from iadbench.models.specs import MODEL_SPECS, spec_for_class

logger = logging.getLogger(__name__)

ANOMALY_SOURCE_DIR = "anomaly_source"  # under the asset directory

class PretrainedWeightsForbiddenError(DownloadForbiddenError):
    """Raised when code tries to load published weights (even from a local cache) under ``random``."""


# --------------------------------------------------------------------------------------------
# Constructor arguments
# --------------------------------------------------------------------------------------------


def _has_images(directory: Path) -> bool:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return any(path.suffix.lower() in IMG_EXTENSIONS for path in directory.rglob("*") if path.is_file())


def _local_directory(model: str, key: str, value: Any, needs: str) -> None:
    """An explicit local directory must exist and hold images: otherwise anomalib would download."""
    directory = Path(value)
    if not directory.is_dir():
        raise ValueError(f"{model}: init_args.{key}={value!r} does not exist; anomalib would download {needs} "
                         "into it, which weights: random forbids (leave it unset to use the local stand-in)")
    if not _has_images(directory):
        raise ValueError(f"{model}: init_args.{key}={value!r} holds no images; anomalib would silently use "
                         "Perlin noise only (leave it unset to use the local texture set)")


def random_weights_init_args(name: str, model_class: type, init_args: dict[str, Any],
                             asset_dir: str | Path) -> dict[str, Any]:
    """``init_args`` adjusted for ``weights: random``.

    * ``pre_trained`` (models that have it, ``**kwargs`` followed to parent classes) becomes
      ``False``; an explicit value other than ``false`` contradicts random weights and is a
      ``ValueError``. Exception: GLASS, whose ``pre_trained`` means "frozen pretrained backbone"
      versus "train the backbone" and whose ``False`` path crashes in anomalib 2.7, keeps the frozen
      path (the backbone is made random by :func:`random_weights_patches`); ``false`` is an error.
    * DRAEM's ``dtd_dir``, GLASS's ``anomaly_source_path`` and EfficientAd's ``imagenet_dir``, when
      unset (or ``null`` for ``dtd_dir``, which would mean anomalib's download cache), point at the
      local texture set written by :func:`iadbench.datasets.anomaly_source.ensure_anomaly_source`
      under ``asset_dir/anomaly_source``. An explicit directory is kept if it exists and holds
      images; one that does not would trigger a download (or silently degrade DRAEM) and is a
      ``ValueError``. GLASS's explicit ``anomaly_source_path: null`` (Perlin noise, no download) is kept.
    """
    args = dict(init_args)
    label = f"{name} ({model_class.__name__})"

    def accepts(argument: str) -> bool:
        return accepts_argument(model_class, argument)

    if spec_for_class(model_class, name).keeps_pre_trained:
        # GLASS's pre_trained also makes the backbone trainable, and that path is broken in anomalib
        # 2.7 (configure_optimizers calls .parameters() on the backbone's *name*). Random weights keep
        # the frozen-backbone path; random_weights_patches builds that backbone without weights.
        if args.get("pre_trained", True) is not True:
            raise ValueError(f"{label}: init_args.pre_trained=false (train the backbone) crashes in anomalib "
                             "2.7's GLASS; weights: random already gives it a random (frozen) backbone")
    elif accepts("pre_trained"):
        if args.get("pre_trained", False) is not False:
            raise ValueError(f"{label}: init_args.pre_trained={args['pre_trained']!r} contradicts weights: random")
        args["pre_trained"] = False

    def source() -> str:
        return str(ensure_anomaly_source(Path(asset_dir) / ANOMALY_SOURCE_DIR))

    if accepts("dtd_dir"):  # DRAEM: None means anomalib's dataset cache, i.e. a download
        if args.get("dtd_dir") is None:
            args["dtd_dir"] = source()
        else:
            _local_directory(label, "dtd_dir", args["dtd_dir"], "DTD")
    if accepts("anomaly_source_path"):  # GLASS: None means Perlin noise, no download
        if "anomaly_source_path" not in args:
            args["anomaly_source_path"] = source()
        elif args["anomaly_source_path"] is not None:
            _local_directory(label, "anomaly_source_path", args["anomaly_source_path"], "DTD")
    if accepts("imagenet_dir"):  # EfficientAd: an ImageFolder of natural images
        if args.get("imagenet_dir") is None:
            args["imagenet_dir"] = source()
        else:
            _local_directory(label, "imagenet_dir", args["imagenet_dir"], "ImageNette")
    return args


# --------------------------------------------------------------------------------------------
# Pre-processing (image sizes)
# --------------------------------------------------------------------------------------------


def check_image_size(model_class: type, image_size: int) -> None:
    """Refuse, with the reason, an image size a model cannot run at (instead of a deep conv error)."""
    spec = spec_for_class(model_class)
    if image_size < spec.minimum_image_size:
        raise ValueError(f"{model_class.__name__} needs image_size >= {spec.minimum_image_size} "
                         f"(got {image_size}): {spec.image_size_rule}")


def image_size_init_args(model_class: type, init_args: dict[str, Any], image_size: int) -> dict[str, Any]:
    """Constructor arguments that must agree with the image size (any weights; e.g. GLASS's input_shape)."""
    spec = spec_for_class(model_class)
    return spec.size_init_args(init_args, image_size) if spec.size_init_args else dict(init_args)


def configure_pre_processor(model_class: type, image_size: int):
    """The model's pre-processor for square ``image_size`` inputs: its spec's (Dinomaly), else
    anomalib's default for that size (U-Flow ignores it and always uses 448)."""
    spec = spec_for_class(model_class)
    if spec.pre_processor:
        return spec.pre_processor(model_class, image_size)
    return model_class.configure_pre_processor(image_size=(image_size, image_size))


# --------------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------------


def _forbid(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PretrainedWeightsForbiddenError(
            f"weights: random forbids loading published weights ({what}); "
            "iadbench.models.random_weights has no patch for this call site")
    return refuse


def _patch_generic(stack: contextlib.ExitStack) -> None:
    """Safety nets for every model: timm never loads weights, torchvision/torch.hub refuse to."""
    import timm
    import torch.hub
    from torchvision.models import WeightsEnum  # public name of the class that loads every weight

    create_model = timm.create_model

    @functools.wraps(create_model)
    def create_random_model(*args: Any, **kwargs: Any) -> Any:
        if len(args) > 1:  # create_model(model_name, pretrained, ...) positionally
            requested, args = args[1], (args[0], False, *args[2:])
        else:
            requested, kwargs["pretrained"] = kwargs.get("pretrained"), False
        if requested:
            logger.info("weights: random: timm.create_model(%s, pretrained=True) -> pretrained=False",
                        args[0] if args else kwargs.get("model_name"))
        return create_model(*args, **kwargs)

    replace(stack, timm, "create_model", create_random_model)
    replace(stack, WeightsEnum, "get_state_dict", _forbid("torchvision WeightsEnum.get_state_dict"))
    replace(stack, torch.hub, "load_state_dict_from_url", _forbid("torch.hub.load_state_dict_from_url"))


def model_patches(name: str, model_class: type | None = None) -> tuple[Callable[[contextlib.ExitStack], None], ...]:
    """The model-specific patches of a model (its spec's; by class when given, else by registry name)."""
    if model_class is not None:
        return spec_for_class(model_class, name).random_weights_patches
    return MODEL_SPECS[name].random_weights_patches if name in MODEL_SPECS else ()


@contextlib.contextmanager
def random_weights_patches(name: str, model_class: type | None = None) -> Iterator[None]:
    """Inside the block, model ``name`` builds, fits and predicts with random weights, no downloads.

    Keep it active around construction, ``engine.fit`` and ``engine.predict``: some models fetch
    weights when training starts (DSR, EfficientAd), not when built. ``model_class`` (defaults to
    the registry's class for ``name``) selects the model-specific patches; the generic ones (timm
    ``pretrained=False``; torchvision and torch.hub weight loading refused) always apply.
    """
    with contextlib.ExitStack() as stack:
        _patch_generic(stack)
        for patch in model_patches(name, model_class):
            patch(stack)
        yield


@contextlib.contextmanager
def offline_model(name: str, model_spec: dict[str, Any], weights: str, pretrained_reason: str) -> Iterator[None]:
    """Inside the block no download happens: with ``weights: random`` the model (its ``class_path`` or the
    registry's) builds and runs under :func:`random_weights_patches`; with ``pretrained`` it reads the
    fetched assets (the spec's ``pretrained_patches`` point a library at the cache where it would not look
    there by itself), and a download attempt fails with ``pretrained_reason``."""
    with contextlib.ExitStack() as stack:
        if weights == "random":
            stack.enter_context(network_forbidden("weights: random forbids downloads"))
            model_class = import_class(resolve_class_path(name, model_spec.get("class_path")))
            stack.enter_context(random_weights_patches(name, model_class))
        else:
            stack.enter_context(network_forbidden(pretrained_reason))
            model_class = import_class(resolve_class_path(name, model_spec.get("class_path")))
            for patch in spec_for_class(model_class, name).pretrained_patches:  # e.g. open_clip reads the cache
                patch(stack)
        yield
