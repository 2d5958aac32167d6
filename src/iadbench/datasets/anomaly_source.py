"""A small local texture set that stands in for DTD (and ImageNette) when downloads are forbidden.

DRÆM pastes Perlin-shaped pieces of "anomaly source" images (anomalib downloads the Describable
Textures Dataset, DTD, for them), GLASS can do the same (``anomaly_source_path``), and EfficientAd
trains its student against a stream of natural images (anomalib downloads ImageNette). With
``weights: random`` no job may touch the network, so :func:`ensure_anomaly_source` writes a
stand-in from the photographs that ship inside scikit-image (no download).

How the consumers read a directory (anomalib 2.7):

* ``PerlinAnomalyGenerator(anomaly_source_path=...)`` (DRÆM's ``dtd_dir``, GLASS's
  ``anomaly_source_path``) globs ``rglob("*" + ext)`` for torchvision's ``IMG_EXTENSIONS`` (lower
  case ``.png``, ``.jpg``, ...), at any depth, and reads each with ``torchvision.io.read_image``
  (RGB), resized to the training image size. An empty directory silently means "Perlin noise only".
* EfficientAd's ``imagenet_dir`` is read with ``torchvision.datasets.ImageFolder``: it needs one
  sub-folder per class with images inside.

So the layout written is ``<directory>/images/<source>/<source>_<index>.png`` (RGB PNG, square) plus
``<directory>/manifest.json``; the same directory serves all three.

The textures deliberately avoid ``brick``, ``grass`` and ``gravel``: the embedded dataset builds its
categories and its ``contamination`` defects from those photographs, and an anomaly source cut from
them would teach DRÆM/GLASS the very test defects (leakage).

Each image is a random crop (scale, position) of one photograph, resized, rotated/flipped, recoloured
(channel mix, gains, gamma), and in a third of the cases tiled from a smaller crop with mirroring so
that it looks like a repetitive texture, as DTD's do. Everything derives from ``seed``: the same call
writes identical files; a second call finds them and returns at once.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

# Photographs shipped with scikit-image (``skimage.data``), none of them used by the embedded dataset.
TEXTURE_SOURCES = (
    "camera", "coffee", "rocket", "astronaut", "chelsea", "coins", "moon", "hubble_deep_field",
    "immunohistochemistry", "cell", "colorwheel", "clock", "page", "text", "retina", "motorcycle",
)
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
IMAGE_DIR = "images"


def _photograph(name: str) -> np.ndarray:
    """A scikit-image photograph as float32 RGB in [0, 1]."""
    from skimage import data as skimage_data

    image = skimage_data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage_data, name)()
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return image[..., :3].astype(np.float32) / 255.0


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    pixels = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    return np.asarray(pixels.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0


def _crop(photo: np.ndarray, rng: np.random.Generator, fraction: tuple[float, float]) -> np.ndarray:
    height, width = photo.shape[:2]
    side = max(8, int(min(height, width) * rng.uniform(*fraction)))
    y = int(rng.integers(0, height - side + 1))
    x = int(rng.integers(0, width - side + 1))
    return photo[y : y + side, x : x + side]


def texture(index: int, seed: int = 0, size: int = 256) -> tuple[str, np.ndarray]:
    """The ``index``-th texture of the set for ``seed``: (source name, float32 RGB ``size`` x ``size``)."""
    rng = np.random.default_rng([seed, index, FORMAT_VERSION])
    source = TEXTURE_SOURCES[index % len(TEXTURE_SOURCES)]
    photo = _photograph(source)
    if rng.random() < 1 / 3:  # a repetitive texture: a small crop tiled with mirroring
        repeats = int(rng.integers(2, 5))
        tile = _resize(_crop(photo, rng, (0.15, 0.4)), -(-size // repeats))
        rows = [np.concatenate([tile[:, ::-1] if (row + col) % 2 else tile for col in range(repeats)], axis=1)
                for row in range(repeats)]
        rows = [strip[::-1] if number % 2 else strip for number, strip in enumerate(rows)]
        image = np.concatenate(rows, axis=0)[:size, :size]
    else:
        image = _resize(_crop(photo, rng, (0.35, 0.95)), size)
    image = np.rot90(image, k=int(rng.integers(0, 4)))
    if rng.random() < 0.5:
        image = image[:, ::-1]
    mix = np.eye(3, dtype=np.float32)[rng.permutation(3)] * 0.7 + rng.uniform(0, 0.3, (3, 3)).astype(np.float32)
    mix /= mix.sum(axis=1, keepdims=True)
    image = (image @ mix.T) * rng.uniform(0.7, 1.25, 3).astype(np.float32)
    image = np.clip(image, 0, 1) ** np.float32(rng.uniform(0.7, 1.4))
    return source, np.ascontiguousarray(image, dtype=np.float32)


def _manifest(seed: int, count: int, size: int) -> dict:
    return {"generator": "iadbench.datasets.anomaly_source", "format_version": FORMAT_VERSION,
            "seed": seed, "count": count, "size": size, "sources": list(TEXTURE_SOURCES)}


def image_paths(directory: str | Path) -> list[Path]:
    """The texture files of a written set, in a stable order."""
    return sorted((Path(directory) / IMAGE_DIR).rglob("*.png"))


def _check_existing(directory: Path, expected: dict) -> bool:
    """True if ``directory`` holds this exact set; False if it is absent or empty; else an error."""
    if not directory.exists():
        return False
    if directory.is_dir() and not any(directory.iterdir()):
        return False  # an empty directory (e.g. left by a failed download) is replaced
    try:
        found = json.loads((directory / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        raise ValueError(f"{directory} exists but was not written by ensure_anomaly_source "
                         f"(no readable {MANIFEST}); remove it or choose another directory") from None
    if found != expected:
        raise ValueError(f"{directory} holds a different anomaly-source set ({found}); "
                         f"wanted {expected}: remove it or choose another directory")
    if len(image_paths(directory)) != expected["count"]:
        raise ValueError(f"{directory}: manifest says {expected['count']} textures, found "
                         f"{len(image_paths(directory))}; remove the directory to rewrite it")
    return True


def ensure_anomaly_source(directory: str | Path, seed: int = 0, count: int = 48, size: int = 256) -> Path:
    """Write (once) ``count`` deterministic ``size`` px textures under ``directory``; return it.

    Idempotent: a directory already holding the same set is returned untouched; one holding
    something else is an error. Atomic: the set is written to a temporary sibling and renamed into
    place, so concurrent jobs never see a partial set (the loser of a race discards its copy).
    """
    directory = Path(directory)
    if count < 1 or size < 8:
        raise ValueError(f"anomaly source needs count >= 1 and size >= 8 (got count={count}, size={size})")
    expected = _manifest(seed, count, size)
    if _check_existing(directory, expected):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        for index in range(count):
            source, image = texture(index, seed, size)
            path = temporary / IMAGE_DIR / source / f"{source}_{index:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path)
        (temporary / MANIFEST).write_text(json.dumps(expected, indent=2))
        temporary.chmod(0o755)  # mkdtemp makes it 0700
        try:
            os.rename(temporary, directory)  # replaces an absent or empty directory atomically
        except OSError:
            if not _check_existing(directory, expected):  # someone else won the race: use theirs
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return directory
