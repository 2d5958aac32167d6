"""``weights: random``: every backbone starts from random initialisation and nothing is downloaded.

anomalib 2.7 fetches pretrained weights and auxiliary data in many places; a job running under
:func:`iadbench.offline.network_forbidden` fails at the first of them. This module makes the
study's models (and EfficientAd, SuperSimpleNet, GLASS, UniNet, Dinomaly) run without them:

* :func:`random_weights_init_args` adjusts a model's constructor arguments (``pre_trained=False``,
  local anomaly-source / ImageNette stand-ins from :mod:`iadbench.datasets.anomaly_source`);
* :func:`random_weights_patches`, a context manager active during construction, fit and predict,
  replaces the few anomalib/torchvision/timm call sites that load published weights by versions
  that build the same architecture with random weights. Each patch replaces one named attribute
  (checked to exist, so an anomalib upgrade that moves it fails loudly) and is restored on exit;
* :data:`RANDOM_WEIGHTS_CHANGES` says, per model, what ``random`` changes (for docs and reports).

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
import importlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from iadbench.offline import DownloadForbiddenError

logger = logging.getLogger(__name__)

ANOMALY_SOURCE_DIR = "anomaly_source"  # under the asset directory

# One line per model: what ``weights: random`` changes relative to anomalib's defaults.
RANDOM_WEIGHTS_CHANGES: dict[str, str] = {
    "cfa": "torchvision wide_resnet50_2 built with weights=None (anomalib hard-codes DEFAULT weights).",
    "cflow": "pre_trained=False: random timm encoder (frozen); the normalizing flows train as usual.",
    "csflow": "torchvision efficientnet_b5 built with weights=None (anomalib hard-codes IMAGENET1K_V1).",
    "dfkde": "pre_trained=False: random timm backbone; features of a random CNN feed the KDE.",
    "dfm": "pre_trained=False: random timm backbone; features of a random CNN feed PCA/Gaussian.",
    "fastflow": "pre_trained=False: random timm backbone (frozen); the flow trains as usual.",
    "rkde": "Random backbone for region features (implemented in iadbench.models.rkde).",
    "draem": "dtd_dir -> local scikit-image texture set (no DTD download); DRAEM has no pretrained backbone.",
    "dsr": "Pretrained VQ-VAE (discrete latent model, frozen in DSR) is not loaded: it stays random.",
    "ganomaly": "Nothing: GANomaly trains from scratch and downloads nothing.",
    "padim": "pre_trained=False: random timm backbone; Gaussian statistics of random features.",
    "patchcore": "pre_trained=False: random timm backbone; memory bank of random features.",
    "reverse_distillation": "pre_trained=False: random (frozen) teacher encoder; the student decoder trains.",
    "stfpm": "Teacher built with pretrained=False (anomalib hard-codes True): student mimics a random teacher.",
    "uflow": "Backbone (default mcait = timm cait_m48_448 + cait_s24_224) built with pretrained=False.",
    "efficient_ad": "Pretrained PDN teacher not loaded (random teacher); imagenet_dir -> local texture set.",
    "supersimplenet": "timm wide_resnet50_2.tv_in1k built with pretrained=False (anomalib hard-codes True).",
    "glass": "timm backbone built with pretrained=False, kept frozen (pre_trained stays True: anomalib 2.7's "
             "pre_trained=False path crashes); anomaly_source_path -> local texture set.",
    "uninet": "torchvision teachers (wide_resnet50_2) built with weights=None (anomalib hard-codes DEFAULT).",
    "dinomaly": "DINOv2 ViT encoder (timm) built with pretrained=False; needs a multiple-of-14 input size.",
}


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
    from iadbench.models import accepts_argument

    args = dict(init_args)
    label = f"{name} ({model_class.__name__})"

    def accepts(argument: str) -> bool:
        return accepts_argument(model_class, argument)

    if _is_subclass(model_class, "anomalib.models.Glass"):
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
        from iadbench.datasets.anomaly_source import ensure_anomaly_source

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


# Smallest square image size each model runs at (anomalib 2.7 defaults), and why.
MINIMUM_IMAGE_SIZE: dict[str, tuple[int, str]] = {
    "anomalib.models.Csflow": (128, "features of efficientnet_b5 (stride 32) at 3 scales (1, 1/2, 1/4) must be >= 1 px"),
    "anomalib.models.Supersimplenet": (128, "Perlin masks on the 1/4-size feature map need >= 32 px"),
    "anomalib.models.EfficientAd": (256, "the autoencoder halves 5 times, then applies an 8x8 kernel"),
}


def check_image_size(model_class: type, image_size: int) -> None:
    """Refuse, with the reason, an image size a model cannot run at (instead of a deep conv error)."""
    for class_path, (minimum, reason) in MINIMUM_IMAGE_SIZE.items():
        if image_size < minimum and _is_subclass(model_class, class_path):
            raise ValueError(f"{model_class.__name__} needs image_size >= {minimum} (got {image_size}): {reason}")


def image_size_init_args(model_class: type, init_args: dict[str, Any], image_size: int) -> dict[str, Any]:
    """Constructor arguments that must agree with the image size (any weights).

    GLASS sizes its anomaly maps to ``input_shape`` (default 288 x 288): anything else than the
    image size gives maps that do not match the masks (anomalib's threshold then fails with an
    IndexError). Unset, it becomes ``(image_size, image_size)``; set to something else, an error.
    """
    args = dict(init_args)
    if _is_subclass(model_class, "anomalib.models.Glass"):
        wanted = [image_size, image_size]
        if "input_shape" not in args:
            args["input_shape"] = tuple(wanted)
        elif list(args["input_shape"]) != wanted:
            raise ValueError(f"Glass: init_args.input_shape={args['input_shape']} must equal the image size {wanted}")
    return args


def dinomaly_input_size(image_size: int, patch_size: int = 14) -> int:
    """Dinomaly's ViT cuts 14 px patches: the nearest multiple of 14 to ``image_size`` (at least 14)."""
    return max(patch_size, patch_size * round(image_size / patch_size))


def configure_pre_processor(model_class: type, image_size: int):
    """The model's pre-processor for square ``image_size`` inputs.

    Dinomaly's default resizes to 448 and centre-crops 392, and refuses image sizes under 392; its
    crop would also cut the image border off the anomaly map. Here it resizes straight to the nearest
    multiple of 14 (64 -> 70, 256 -> 252) with ImageNet normalisation, no crop: the map covers the
    whole image and is resized to the masks' size at evaluation. Every other model keeps anomalib's
    default for ``image_size`` (U-Flow ignores it and always uses 448).
    """
    from anomalib.models import Dinomaly

    if issubclass(model_class, Dinomaly):
        from anomalib.pre_processing import PreProcessor
        from torchvision.transforms.v2 import Compose, Normalize, Resize

        side = dinomaly_input_size(image_size)
        return PreProcessor(transform=Compose([
            Resize((side, side), antialias=True),
            Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ]))
    return model_class.configure_pre_processor(image_size=(image_size, image_size))


# --------------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------------


def _replace(stack: contextlib.ExitStack, owner: Any, attribute: str, value: Any) -> None:
    """Set ``owner.attribute`` (a module or class attribute of its own) and restore it on exit."""
    namespace = vars(owner)
    if attribute not in namespace:
        raise RuntimeError(f"random weights: {owner!r} has no attribute {attribute!r} to patch "
                           "(anomalib/torchvision/timm changed?)")
    original = namespace[attribute]  # the raw descriptor (staticmethod stays a staticmethod)
    setattr(owner, attribute, value)
    stack.callback(setattr, owner, attribute, original)


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
    from torchvision.models import _api as torchvision_api

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

    _replace(stack, timm, "create_model", create_random_model)
    _replace(stack, torchvision_api.WeightsEnum, "get_state_dict", _forbid("torchvision WeightsEnum.get_state_dict"))
    _replace(stack, torch.hub, "load_state_dict_from_url", _forbid("torch.hub.load_state_dict_from_url"))


def _torchvision_random(backbone: str):
    import torchvision

    return getattr(torchvision.models, backbone)(weights=None)


def _patch_cfa(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.cfa import torch_model

    def get_feature_extractor(backbone: str, return_nodes: list[str]):
        """anomalib's CFA extractor, with ``weights=None`` instead of the backbone's DEFAULT weights."""
        from torchvision.models.feature_extraction import create_feature_extractor

        extractor = create_feature_extractor(model=_torchvision_random(backbone), return_nodes=return_nodes)
        return extractor.eval()

    _replace(stack, torch_model, "get_feature_extractor", get_feature_extractor)


def _patch_csflow(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.csflow import torch_model

    efficientnet_b5 = torch_model.efficientnet_b5

    def random_efficientnet_b5(**kwargs: Any):
        """CS-Flow's ``efficientnet_b5(weights=IMAGENET1K_V1)`` with ``weights=None``."""
        return efficientnet_b5(**{**kwargs, "weights": None})

    _replace(stack, torch_model, "efficientnet_b5", random_efficientnet_b5)


def _patch_uninet(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.uninet.torch_model import Teachers

    def get_teacher(backbone: str):
        """UniNet's teacher feature extractor, with ``weights=None`` instead of DEFAULT weights."""
        from torchvision.models.feature_extraction import create_feature_extractor

        return create_feature_extractor(_torchvision_random(backbone), return_nodes=["layer3", "layer2", "layer1"])

    _replace(stack, Teachers, "_get_teacher", staticmethod(get_teacher))


def _no_download(module_name: str) -> Callable[[contextlib.ExitStack], None]:
    """Make a lightning module's ``download_and_extract`` refuse with a clear message."""

    def patch(stack: contextlib.ExitStack) -> None:
        module = importlib.import_module(module_name)

        def refuse(root: Path, info: Any) -> None:
            raise DownloadForbiddenError(
                f"weights: random forbids downloads: {module_name} wanted {info.name} ({info.url}) in {root}")

        _replace(stack, module, "download_and_extract", refuse)

    return patch


def _patch_dsr(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.dsr.lightning_model import Dsr
    from anomalib.models.image.dsr.torch_model import DsrModel

    def prepare_pretrained_model() -> Path:
        logger.info("weights: random: DSR's pretrained VQ-VAE weights are not downloaded")
        return Path("/nonexistent/random-weights/dsr_vq_model")

    def load_pretrained_discrete_model_weights(self, ckpt: Path, device: Any = None) -> None:
        logger.info("weights: random: DSR's discrete latent model keeps its random initialisation")

    _replace(stack, Dsr, "prepare_pretrained_model", staticmethod(prepare_pretrained_model))
    _replace(stack, DsrModel, "load_pretrained_discrete_model_weights", load_pretrained_discrete_model_weights)


def _patch_efficient_ad(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.efficient_ad.lightning_model import EfficientAd

    def prepare_pretrained_model(self) -> None:
        logger.info("weights: random: EfficientAd's teacher keeps its random initialisation")

    _replace(stack, EfficientAd, "prepare_pretrained_model", prepare_pretrained_model)


# Model-specific patches, keyed by the class path of the model they apply to (subclasses included).
_MODEL_PATCHES: dict[str, tuple[Callable[[contextlib.ExitStack], None], ...]] = {
    "anomalib.models.Cfa": (_patch_cfa,),
    "anomalib.models.Csflow": (_patch_csflow,),
    "anomalib.models.UniNet": (_patch_uninet,),
    "anomalib.models.Draem": (_no_download("anomalib.models.image.draem.lightning_model"),),
    "anomalib.models.Glass": (_no_download("anomalib.models.image.glass.lightning_model"),),
    "anomalib.models.Dsr": (_no_download("anomalib.models.image.dsr.lightning_model"), _patch_dsr),
    "anomalib.models.EfficientAd": (_no_download("anomalib.models.image.efficient_ad.lightning_model"),
                                    _patch_efficient_ad),
}


def _import(class_path: str) -> type:
    module_name, _, class_name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def _is_subclass(model_class: type, class_path: str) -> bool:
    try:
        return issubclass(model_class, _import(class_path))
    except (ImportError, AttributeError):
        return False


def model_patches(name: str, model_class: type | None = None) -> list[Callable[[contextlib.ExitStack], None]]:
    """The model-specific patches for a model (by class when given, else by registry name)."""
    if model_class is None:
        from iadbench.models import MODEL_CLASS_PATHS

        if name not in MODEL_CLASS_PATHS:
            return []
        model_class = _import(MODEL_CLASS_PATHS[name])
    patches: list[Callable[[contextlib.ExitStack], None]] = []
    for class_path, functions in _MODEL_PATCHES.items():
        if _is_subclass(model_class, class_path):
            patches.extend(functions)
    return patches


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
