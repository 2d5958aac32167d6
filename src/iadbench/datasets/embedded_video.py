"""The embedded video dataset: deterministic synthetic surveillance clips in UCSDped's on-disk layout.

A fixed camera looks at a textured ground (a crop of scikit-image's ``gravel`` photograph, as the
embedded images use); small bright discs ("pedestrians") walk from left to right at their own speed
and height, wrapping around. Every training video is normal. Each test video has one anomalous event in a
window of frames: test videos alternate between an object **moving against the flow** (a disc walking
right to left) and an **unusual object** (a large dark square crossing the scene). A frame is anomalous
when the anomalous object is visible in it; its ground-truth mask is the object's footprint. Lighting
flicker and sensor noise vary per frame. Everything derives from one seed: the same call writes
identical files.

Layout written (UCSDped's, so anomalib's ``UCSDpedDataset`` reads it)::

    <root>/<category>/Train/Train001/001.tif ...
    <root>/<category>/Test/Test001/001.tif ...
    <root>/<category>/Test/Test001_gt/001.bmp ...   (0/255 masks, one per frame, also for normal frames)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skimage_data

TYPE = "embedded_video"
CATEGORIES = ("walkway",)
ANOMALY_KINDS = ("against_flow", "unusual_object")


@dataclass(frozen=True)
class EmbeddedVideoSpec:
    """Sizes of one generated category."""

    image_size: int = 64
    n_train_videos: int = 2
    n_test_videos: int = 2
    frames_per_video: int = 8


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    key = zlib.crc32("/".join(map(str, keys)).encode())
    return np.random.default_rng([seed, key])


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    source = skimage_data.gravel().astype(np.float32) / 255.0
    y, x = rng.integers(0, source.shape[0] - size, size=2)
    return 0.25 + 0.35 * source[y : y + size, x : x + size]


def _disc(size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.hypot(yy - cy, xx - cx) <= radius


def _square(size: int, cy: float, cx: float, half: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return (np.abs(yy - cy) <= half) & (np.abs(xx - cx) <= half)


def _walkers(size: int, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """(row, start column, speed in px/frame) of the normal objects, all moving left to right."""
    count = 3
    rows = np.linspace(0.2, 0.8, count) * size + rng.uniform(-0.05, 0.05, count) * size
    return [(float(row), float(rng.uniform(0, size)), float(rng.uniform(0.06, 0.1) * size)) for row in rows]


def _frame(background: np.ndarray, walkers, t: int, rng: np.random.Generator) -> np.ndarray:
    size = background.shape[0]
    radius = size * 0.06
    frame = background.copy()
    for row, start, speed in walkers:
        column = (start + speed * t) % (size + 2 * radius) - radius
        frame[_disc(size, row, column, radius)] = 0.92
    flicker = rng.uniform(0.95, 1.05)
    return np.clip(frame * flicker + rng.normal(0, 0.015, frame.shape), 0, 1)


def _anomaly(kind: str, size: int, t: int, start: int, rng_event: np.random.Generator) -> np.ndarray:
    """Footprint of the anomalous object at frame ``t`` of an event starting at ``start``."""
    row = float(rng_event.uniform(0.3, 0.7) * size)
    speed = float(rng_event.uniform(0.08, 0.12) * size)
    step = t - start
    if kind == "against_flow":
        radius = size * 0.06
        return _disc(size, row, size - 2 - speed * step, radius)
    half = size * 0.12
    return _square(size, row, -half + 4 + speed * step, half)


def _save_frame(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8), mode="L").save(path)


def _save_mask(mask: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(path)


def event_window(frames: int) -> tuple[int, int]:
    """[first, last) frames of a test video in which its anomalous event is scheduled (the middle half)."""
    first = frames // 4
    return first, max(first + 1, frames - frames // 4)


def generate_category(root: Path, category: str, seed: int = 0, spec: EmbeddedVideoSpec = EmbeddedVideoSpec()) -> None:
    """Write one category in UCSDped's layout under ``root/category``."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown embedded_video category {category!r}; choose from {', '.join(CATEGORIES)}")
    if spec.frames_per_video < 4:
        raise ValueError(f"embedded_video: frames_per_video must be >= 4 (got {spec.frames_per_video})")
    size, out = spec.image_size, Path(root) / category
    for split, count in (("Train", spec.n_train_videos), ("Test", spec.n_test_videos)):
        for video in range(count):
            rng = _rng(seed, category, split, video)
            background, walkers = _background(size, rng), _walkers(size, rng)
            name = f"{split}{video + 1:03d}"
            kind = ANOMALY_KINDS[video % len(ANOMALY_KINDS)]
            first, last = event_window(spec.frames_per_video)
            event_seed = int(rng.integers(0, 2**31))
            for t in range(spec.frames_per_video):
                frame = _frame(background, walkers, t, rng)
                mask = np.zeros((size, size), dtype=bool)
                if split == "Test" and first <= t < last:
                    mask = _anomaly(kind, size, t, first, np.random.default_rng(event_seed))
                    frame[mask] = 0.92 if kind == "against_flow" else 0.05
                _save_frame(frame, out / split / name / f"{t + 1:03d}.tif")
                if split == "Test":
                    _save_mask(mask, out / split / f"{name}_gt" / f"{t + 1:03d}.bmp")
