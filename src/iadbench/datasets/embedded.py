"""The embedded dataset: deterministic synthetic categories in the exact MVTec AD layout.

Textures are cut from the real photographs that scikit-image ships (``brick``, ``grass``,
``gravel``); one object-like category (``washer``) is drawn. Defects are painted on
defect-free samples and their ground-truth masks are where the painting changed the image.
Nuisance variation (crop position, lighting, small shifts, sensor noise) keeps models from all
being perfect. Everything is derived from one seed, so the same call writes identical files.

Layout written (as MVTec AD)::

    <root>/<category>/train/good/000.png
    <root>/<category>/test/good/000.png
    <root>/<category>/test/<defect>/000.png
    <root>/<category>/ground_truth/<defect>/000_mask.png
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skimage_data

TEXTURE_SOURCES = ("brick", "grass", "gravel")
# Defect types per category; "contamination" pastes a patch of another texture (local anomaly source).
CATEGORY_DEFECTS: dict[str, tuple[str, ...]] = {
    "brick": ("scratch", "stain", "contamination"),
    "grass": ("scratch", "stain", "contamination"),
    "gravel": ("stain", "contamination"),
    "washer": ("scratch", "missing_piece", "stain"),
}
CATEGORIES = tuple(CATEGORY_DEFECTS)
TEXTURE_TINTS = {"brick": (1.0, 0.78, 0.62), "grass": (0.72, 1.0, 0.6), "gravel": (0.95, 0.93, 0.88)}


@dataclass(frozen=True)
class EmbeddedSpec:
    """Sizes of one generated category."""

    image_size: int = 128
    n_train: int = 24
    n_test_good: int = 8
    n_test_per_defect: int = 5


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    # A stable per-(category, split, index) stream: files do not change when counts change.
    key = zlib.crc32("/".join(map(str, keys)).encode())
    return np.random.default_rng([seed, key])


def _texture(name: str) -> np.ndarray:
    return getattr(skimage_data, name)().astype(np.float32) / 255.0


def _texture_sample(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A randomly placed crop of a texture photograph, tinted to RGB, in [0, 1]."""
    source = _texture(name)
    y, x = rng.integers(0, source.shape[0] - size, size=2)
    gray = source[y : y + size, x : x + size]
    return gray[..., None] * np.asarray(TEXTURE_TINTS[name], dtype=np.float32)


def _washer_sample(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A flat metal ring on a dark background; returns the image and the ring's footprint."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = size / 2 + rng.uniform(-0.04, 0.04, size=2) * size  # small placement shifts
    radius = np.hypot(yy - cy, xx - cx)
    outer, inner = size * rng.uniform(0.36, 0.38), size * rng.uniform(0.16, 0.18)
    ring = (radius <= outer) & (radius >= inner)
    metal = 0.62 + 0.12 * np.cos(np.arctan2(yy - cy, xx - cx) * 2 + rng.uniform(0, np.pi))
    image = np.where(ring, metal, 0.12)[..., None] * np.asarray([0.92, 0.94, 1.0], dtype=np.float32)
    return image.astype(np.float32), ring


def _nuisance(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lighting (gain, offset, gradient) and sensor noise: variation that is not a defect."""
    size = image.shape[0]
    gain, offset = rng.uniform(0.85, 1.15), rng.uniform(-0.05, 0.05)
    ramp = np.linspace(-1, 1, size, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = 0.06 * (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])
    noisy = image * gain + offset + gradient[..., None] + rng.normal(0, 0.02, image.shape)
    return np.clip(noisy, 0, 1).astype(np.float32)


def _blob(size: int, rng: np.random.Generator, radius: tuple[float, float]) -> np.ndarray:
    """A soft irregular blob in [0, 1] (smoothed noise thresholded around a random centre)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.25, 0.75, size=2) * size
    ry, rx = rng.uniform(*radius, size=2) * size
    ellipse = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
    from scipy import ndimage  # here, not at the top: iadbench.datasets is imported at every Snakefile parse

    wobble = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), size / 16) * 6
    return np.clip(1.4 - ellipse - 0.25 * wobble, 0, 1).astype(np.float32)


def _scratch(size: int, rng: np.random.Generator) -> np.ndarray:
    """A thin curved line: coverage in [0, 1]."""
    canvas = np.zeros((size, size), dtype=np.float32)
    start = rng.uniform(0.2, 0.8, size=2) * size
    direction = rng.uniform(0, 2 * np.pi)
    length = rng.uniform(0.3, 0.55) * size
    for t in np.linspace(0, 1, int(length * 3)):
        angle = direction + 0.6 * np.sin(t * np.pi)
        y, x = start + t * length * np.array([np.sin(angle), np.cos(angle)])
        if 0 <= y < size and 0 <= x < size:
            canvas[int(y), int(x)] = 1.0
    width = max(1, size // 96)
    from scipy import ndimage  # here, not at the top: iadbench.datasets is imported at every Snakefile parse

    return np.clip(ndimage.grey_dilation(canvas, size=(width + 1, width + 1)), 0, 1)


def _paint_defect(
    image: np.ndarray, defect: str, category: str, rng: np.random.Generator, footprint: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Paint one defect; returns the defective image and its binary mask."""
    size = image.shape[0]
    if defect == "scratch":
        coverage = _scratch(size, rng)
        if footprint is not None:
            coverage *= footprint
        shade = rng.choice([0.05, 0.95]) * np.ones(3, dtype=np.float32)
        strength = rng.uniform(0.45, 0.9)  # faint scratches are hard on purpose
    elif defect == "stain":
        coverage = _blob(size, rng, (0.06, 0.14))
        if footprint is not None:
            coverage *= footprint
        shade = np.asarray(rng.choice([(0.35, 0.2, 0.1), (0.15, 0.15, 0.2), (0.6, 0.5, 0.2)]), np.float32)
        strength = rng.uniform(0.35, 0.75)
    elif defect == "contamination":
        foreign = rng.choice([name for name in TEXTURE_SOURCES if name != category])
        coverage = _blob(size, rng, (0.08, 0.16))
        patch = _texture_sample(str(foreign), size, rng)
        blended = image * (1 - coverage[..., None]) + patch * coverage[..., None]
        mask = coverage > 0.5
        return np.where(mask[..., None], blended, image), mask
    elif defect == "missing_piece":
        assert footprint is not None, "missing_piece needs an object footprint"
        yy, xx = np.mgrid[0:size, 0:size]
        angle = rng.uniform(0, 2 * np.pi)
        centre = np.asarray([size / 2, size / 2]) + size * 0.3 * np.array([np.sin(angle), np.cos(angle)])
        bite = np.hypot(yy - centre[0], xx - centre[1]) < size * rng.uniform(0.07, 0.12)
        mask = bite & footprint
        return np.where(mask[..., None], np.float32(0.12), image), mask
    else:
        raise ValueError(f"unknown defect type {defect!r}")
    alpha = (coverage * strength)[..., None]
    painted = image * (1 - alpha) + shade * alpha
    return painted, coverage > 0.5


def _clean_sample(category: str, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    if category == "washer":
        return _washer_sample(size, rng)
    return _texture_sample(category, size, rng), None


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)


def generate_category(root: Path, category: str, seed: int = 0, spec: EmbeddedSpec = EmbeddedSpec()) -> None:
    """Write one category in MVTec AD layout under ``root/category``."""
    if category not in CATEGORY_DEFECTS:
        raise ValueError(f"unknown embedded category {category!r}; choose from {', '.join(CATEGORIES)}")
    size, out = spec.image_size, Path(root) / category
    for split, count in (("train", spec.n_train), ("test", spec.n_test_good)):
        for index in range(count):
            rng = _rng(seed, category, split, index)
            image, _ = _clean_sample(category, size, rng)
            _save(_nuisance(image, rng), out / split / "good" / f"{index:03d}.png")
    for defect in CATEGORY_DEFECTS[category]:
        for index in range(spec.n_test_per_defect):
            rng = _rng(seed, category, defect, index)
            image, footprint = _clean_sample(category, size, rng)
            mask = np.zeros((size, size), dtype=bool)
            while mask.sum() < 4:  # a defect must be visible in its mask
                painted, mask = _paint_defect(image, defect, category, rng, footprint)
            _save(_nuisance(painted, rng), out / "test" / defect / f"{index:03d}.png")
            _save(mask.astype(np.float32), out / "ground_truth" / defect / f"{index:03d}_mask.png")


def generate(root: Path, categories: list[str], seed: int = 0, spec: EmbeddedSpec = EmbeddedSpec()) -> None:
    """Write the embedded dataset's categories under ``root``."""
    for category in categories:
        generate_category(Path(root), category, seed, spec)
