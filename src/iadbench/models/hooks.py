"""Model-specific code that the model specs (:mod:`iadbench.models.specs`) point to.

Random-weights patches (each replaces one named attribute through
:func:`iadbench.models.patching.replace`, which fails loudly when anomalib, torchvision or timm
moved it), pre-processing and size rules, and the weights some models request only when training
starts. Every function here belongs to the spec that names it; nothing else calls them directly.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iadbench.core.offline import DownloadForbiddenError
from iadbench.models.assets import HASH_IN_FILENAME, Asset, anomalib_download
from iadbench.models.patching import replace

logger = logging.getLogger(__name__)
Patch = Callable[[contextlib.ExitStack], None]


def _torchvision_random(backbone: str):
    import torchvision

    return getattr(torchvision.models, backbone)(weights=None)


def patch_cfa(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.cfa import torch_model

    def get_feature_extractor(backbone: str, return_nodes: list[str]):
        """anomalib's CFA extractor, with ``weights=None`` instead of the backbone's DEFAULT weights."""
        from torchvision.models.feature_extraction import create_feature_extractor

        return create_feature_extractor(model=_torchvision_random(backbone), return_nodes=return_nodes).eval()

    replace(stack, torch_model, "get_feature_extractor", get_feature_extractor)


def patch_csflow(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.csflow import torch_model

    efficientnet_b5 = torch_model.efficientnet_b5

    def random_efficientnet_b5(**kwargs: Any):
        """CS-Flow's ``efficientnet_b5(weights=IMAGENET1K_V1)`` with ``weights=None``."""
        return efficientnet_b5(**{**kwargs, "weights": None})

    replace(stack, torch_model, "efficientnet_b5", random_efficientnet_b5)


def patch_uninet(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.uninet.torch_model import Teachers

    def get_teacher(backbone: str):
        """UniNet's teacher feature extractor, with ``weights=None`` instead of DEFAULT weights."""
        from torchvision.models.feature_extraction import create_feature_extractor

        return create_feature_extractor(_torchvision_random(backbone), return_nodes=["layer3", "layer2", "layer1"])

    replace(stack, Teachers, "_get_teacher", staticmethod(get_teacher))


def no_download(module_name: str) -> Patch:
    """Make a lightning module's ``download_and_extract`` refuse with a clear message."""

    def patch(stack: contextlib.ExitStack) -> None:
        module = importlib.import_module(module_name)

        def refuse(root: Path, info: Any) -> None:
            raise DownloadForbiddenError(
                f"weights: random forbids downloads: {module_name} wanted {info.name} ({info.url}) in {root}")

        replace(stack, module, "download_and_extract", refuse)

    return patch


def patch_dsr(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.dsr.lightning_model import Dsr
    from anomalib.models.image.dsr.torch_model import DsrModel

    def prepare_pretrained_model() -> Path:
        logger.info("weights: random: DSR's pretrained VQ-VAE weights are not downloaded")
        return Path("/nonexistent/random-weights/dsr_vq_model")

    def load_pretrained_discrete_model_weights(self, ckpt: Path, device: Any = None) -> None:
        logger.info("weights: random: DSR's discrete latent model keeps its random initialisation")

    replace(stack, Dsr, "prepare_pretrained_model", staticmethod(prepare_pretrained_model))
    replace(stack, DsrModel, "load_pretrained_discrete_model_weights", load_pretrained_discrete_model_weights)


def patch_efficient_ad(stack: contextlib.ExitStack) -> None:
    from anomalib.models.image.efficient_ad.lightning_model import EfficientAd

    def prepare_pretrained_model(self) -> None:
        logger.info("weights: random: EfficientAd's teacher keeps its random initialisation")

    replace(stack, EfficientAd, "prepare_pretrained_model", prepare_pretrained_model)


def dinomaly_input_size(image_size: int, patch_size: int = 14) -> int:
    """Dinomaly's ViT cuts 14 px patches: the nearest multiple of 14 to ``image_size`` (at least 14)."""
    return max(patch_size, patch_size * round(image_size / patch_size))


def dinomaly_pre_processor(model_class: type, image_size: int):
    """Resize straight to the nearest multiple of 14 (64 -> 70, 256 -> 252), ImageNet normalisation, no
    crop: anomalib's default (resize 448, centre-crop 392) refuses sizes under 392 and would cut the
    image border off the anomaly map."""
    from anomalib.pre_processing import PreProcessor
    from torchvision.transforms.v2 import Compose, Normalize, Resize

    side = dinomaly_input_size(image_size)
    return PreProcessor(transform=Compose([
        Resize((side, side), antialias=True),
        Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ]))


def glass_input_shape(init_args: dict[str, Any], image_size: int) -> dict[str, Any]:
    """GLASS sizes its anomaly maps to ``input_shape`` (default 288 x 288): anything but the image size
    gives maps that do not match the masks. Unset, it becomes the image size; another value is an error."""
    args = dict(init_args)
    wanted = [image_size, image_size]
    if "input_shape" not in args:
        args["input_shape"] = tuple(wanted)
    elif list(args["input_shape"]) != wanted:
        raise ValueError(f"Glass: init_args.input_shape={args['input_shape']} must equal the image size {wanted}")
    return args


def dsr_training_assets(model: Any, cache: Path) -> list:
    """DSR downloads its VQ model when training starts, not when built."""
    from anomalib.models.image.dsr.lightning_model import WEIGHTS_DOWNLOAD_INFO
    from anomalib.utils.path import get_pretrained_weights_dir

    root = get_pretrained_weights_dir() / "dsr"
    return [anomalib_download(root, WEIGHTS_DOWNLOAD_INFO, cache, root / WEIGHTS_DOWNLOAD_INFO.name)]


def efficient_ad_training_assets(model: Any, cache: Path) -> list:
    """EfficientAd downloads its teacher, and ImageNette unless ``imagenet_dir`` holds it, at train start."""
    from anomalib.models.image.efficient_ad import lightning_model
    from anomalib.utils.path import get_pretrained_weights_dir

    root = get_pretrained_weights_dir()
    assets = [anomalib_download(root, lightning_model.WEIGHTS_DOWNLOAD_INFO, cache,
                                root / "efficientad_pretrained_weights")]
    if not model.imagenet_dir.is_dir():
        assets.append(anomalib_download(model.imagenet_dir, lightning_model.IMAGENETTE_DOWNLOAD_INFO, cache))
    return assets


# ---------------------------------------------------------------------------------------- video models
# CLIP ViT-B/16 (the architecture anomalib's AI-VAD loads with clip.load("ViT-B/16")): embed_dim,
# image_resolution, vision_layers, vision_width, vision_patch_size, context_length, vocab_size,
# transformer_width, transformer_heads, transformer_layers.
CLIP_VIT_B_16 = (512, 224, 12, 768, 16, 77, 49408, 512, 8, 12)


def patch_ai_vad(stack: contextlib.ExitStack) -> None:
    """AI-VAD's four networks with random weights: Mask R-CNN v2 (regions), RAFT large (optical flow),
    Keypoint R-CNN (pose) and its copy of CLIP ViT-B/16 (deep features), none downloaded.

    A random Mask R-CNN still returns boxes with confident-looking class scores at arbitrary places (34
    above ``box_score_thresh`` 0.7 on a 64 px embedded frame): AI-VAD's regions are those plus its
    foreground detections (frame differences), described by random flow, pose and CLIP features.
    """
    from anomalib.models.video.ai_vad import features, flow, regions, torch_model
    from anomalib.models.video.ai_vad.clip import clip
    from anomalib.models.video.ai_vad.clip.model import CLIP
    from torchvision.models import detection, optical_flow

    def maskrcnn(**kwargs: Any):
        return detection.maskrcnn_resnet50_fpn_v2(**{**kwargs, "weights": None, "weights_backbone": None})

    def keypointrcnn(**kwargs: Any):
        return detection.keypointrcnn_resnet50_fpn(**{**kwargs, "weights": None, "weights_backbone": None})

    def raft_large(**kwargs: Any):
        return optical_flow.raft_large(**{**kwargs, "weights": None})

    def load_clip(name: str, device: Any = "cpu", jit: bool = False, download_root: str | None = None):
        if name != "ViT-B/16":
            raise DownloadForbiddenError(f"weights: random: AI-VAD asked for CLIP {name!r}, only ViT-B/16 is known")
        model = CLIP(*CLIP_VIT_B_16).to(device).float().eval()
        return model, clip._transform(model.visual.input_resolution)

    replace(stack, torch_model.AiVadModel, "forward", ai_vad_forward)
    replace(stack, regions, "maskrcnn_resnet50_fpn_v2", maskrcnn)
    replace(stack, features, "keypointrcnn_resnet50_fpn", keypointrcnn)
    replace(stack, flow, "raft_large", raft_large)
    replace(stack, clip, "load", load_clip)


def ai_vad_forward(self, batch):
    """anomalib 2.7's ``AiVadModel.forward``, except that a frame without any region (nothing detected, no
    motion) gets an all-zero anomaly map instead of crashing (``torch.amax`` over zero regions); its score
    is anomalib's for an empty frame, 0 (a pretrained detector on a frame with nobody in it, and no motion)."""
    import torch
    from anomalib.data import InferenceBatch

    self.flow_extractor.eval()
    self.region_extractor.eval()
    self.feature_extractor.eval()
    first_frame, last_frame = batch[:, 0, ...], batch[:, -1, ...]
    with torch.no_grad():
        flows = self.flow_extractor(first_frame, last_frame)
        regions = self.region_extractor(first_frame, last_frame)
    features_per_batch = self.feature_extractor(first_frame, flows, regions)
    if self.training:
        return features_per_batch
    box_scores, image_scores = [], []
    for features in features_per_batch:
        box, image = self.density_estimator(features)
        box_scores.append(box)
        image_scores.append(image)
    empty = torch.zeros((1, *last_frame.shape[-2:]), device=last_frame.device)
    anomaly_map = torch.stack([
        torch.amax(region["masks"] * scores.view(-1, 1, 1, 1), dim=0) if len(region["masks"]) else empty
        for region, scores in zip(regions, box_scores, strict=True)
    ])
    return InferenceBatch(pred_score=torch.stack(image_scores), anomaly_map=anomaly_map)


def patch_fuvas(stack: contextlib.ExitStack) -> None:
    """FUVAS: ``swin3d_b`` (torchvision) built with random weights; the pytorchvideo backbones (``x3d_*``,
    ``i3d_r50``: code and weights from GitHub through ``torch.hub.load``) refused with the remedy."""
    import torch.hub
    from anomalib.models.video.fuvas import torch_model

    swin3d_b = torch_model.swin3d_b

    def random_swin3d_b(**kwargs: Any):
        return swin3d_b(**{**kwargs, "weights": None})

    def refuse_hub(repo: str, model: str = "", *args: Any, **kwargs: Any):
        raise DownloadForbiddenError(
            f"weights: random: FUVAS's backbone {model!r} comes from torch.hub ({repo}: code and weights "
            "from GitHub); use init_args {backbone: swin3d_b, layer: features.6.1}, which builds offline")

    replace(stack, torch_model, "swin3d_b", random_swin3d_b)
    replace(stack, torch.hub, "load", refuse_hub)


# WinCLIP (the zero_shot setting): anomalib builds open_clip's ViT-B-16-plus-240 with `laion400m_e31`, a
# GitHub release file whose name carries its sha256 prefix (torch.hub's convention), which open_clip
# downloads into ~/.cache/clip. iadbench fetches it into <cache>/clip/ (fetch_assets) and jobs read it there.
OPEN_CLIP_CACHE = "clip"  # under the asset cache ($XDG_CACHE_HOME in a job: assets.offline_environment)


def open_clip_asset(url: str) -> Asset:
    """The asset of an open_clip weight URL: ``clip/<file name>`` in the cache, checked by its file-name digest."""
    filename = url.split("?")[0].rsplit("/", 1)[-1]
    match = HASH_IN_FILENAME.search(filename)
    return Asset(name=f"open_clip {filename}", url=url, path=f"{OPEN_CLIP_CACHE}/{filename}",
                 sha256_prefix=match.group(1) if match and match.group(1) else None)


def patch_winclip(stack: contextlib.ExitStack) -> None:
    """WinCLIP's CLIP with random weights: ``create_model_and_transforms`` builds the same architecture with
    ``pretrained=None``, and open_clip's weight downloads (URL and Hugging Face, even from a local cache) refuse."""
    import open_clip
    from open_clip import factory

    create = open_clip.create_model_and_transforms

    def create_random(model_name: str, pretrained: str | None = None, *args: Any, **kwargs: Any):
        if pretrained:
            logger.info("weights: random: open_clip %s without its %s weights", model_name, pretrained)
        return create(model_name, None, *args, **kwargs)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise DownloadForbiddenError(f"weights: random forbids open_clip's pretrained weights ({args or kwargs})")

    replace(stack, open_clip, "create_model_and_transforms", create_random)
    replace(stack, factory, "download_pretrained", refuse)
    replace(stack, factory, "download_pretrained_from_hf", refuse)


def open_clip_from_cache(stack: contextlib.ExitStack) -> None:
    """``weights: pretrained``: open_clip reads its URL weights from ``$XDG_CACHE_HOME/clip`` (the asset cache in
    a job), not ``~/.cache/clip``; a missing file is a download, which the job's network guard refuses."""
    import os

    from open_clip import pretrained

    download = pretrained.download_pretrained_from_url

    def from_cache(url: str, cache_dir: str | None = None) -> str:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        return download(url, cache_dir=cache_dir or str(Path(cache) / OPEN_CLIP_CACHE))

    replace(stack, pretrained, "download_pretrained_from_url", from_cache)
