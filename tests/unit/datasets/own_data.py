"""Test helpers: a user's own data, as an MVTec-layout folder and as a multi-defect `folder` dataset.

Images are textured noise with a bright square where the defect is (so a model has something to find);
masks mark the square. Each tree also holds a non-image file in an image folder, which must be skipped.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

Tree = dict[str, bytes]


def picture(seed: int, size: int, defect: bool) -> tuple[bytes, bytes]:
    """(image PNG, mask PNG) of one sample: noise, plus a bright square when ``defect``."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(60, 120, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), dtype=np.uint8)
    if defect:
        top, left = rng.integers(size // 8, size // 2, 2)
        pixels[top:top + size // 4, left:left + size // 4] = 250
        mask[top:top + size // 4, left:left + size // 4] = 255
    encoded = []
    for array, mode in ((pixels, "RGB"), (mask, "L")):
        buffer = io.BytesIO()
        Image.fromarray(array, mode=mode).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    return encoded[0], encoded[1]


def mvtec_layout_tree(categories=("widget", "gasket"), masked=("scratch", "dent"), unmasked=("stain",),
                      n_train: int = 6, n_good: int = 3, n_defect: int = 2, size: int = 64) -> Tree:
    """<category>/{train/good, test/good, test/<defect>, ground_truth/<masked defect>}, plus a notes.txt in
    each category's test/good (skipped) and a docs/ folder that is no category (no train/good)."""
    tree: Tree = {"docs/README.md": b"not a category\n"}
    seed = 0
    for category in categories:
        for split, count in (("train", n_train), ("test", n_good)):
            for index in range(count):
                seed += 1
                tree[f"{category}/{split}/good/{index:03d}.png"] = picture(seed, size, False)[0]
        for defect in (*masked, *unmasked):
            for index in range(n_defect):
                seed += 1
                image, mask = picture(seed, size, True)
                tree[f"{category}/test/{defect}/{index:03d}.png"] = image
                if defect in masked:
                    tree[f"{category}/ground_truth/{defect}/{index:03d}_mask.png"] = mask
        tree[f"{category}/test/good/notes.txt"] = b"taken on the night shift\n"
    return tree


def folder_tree(masked=("scratch",), unmasked=("crack",), n_train: int = 6, n_good: int = 3, n_defect: int = 2,
                size: int = 64) -> Tree:
    """normal/, normal_test/, defects/<defect>/, masks/<masked defect>/ (masks named like their image), and
    a readme.txt in normal/ (skipped)."""
    tree: Tree = {"normal/readme.txt": b"camera 2\n"}
    seed = 1000
    for folder, count in (("normal", n_train), ("normal_test", n_good)):
        for index in range(count):
            seed += 1
            tree[f"{folder}/{index:03d}.png"] = picture(seed, size, False)[0]
    for defect in (*masked, *unmasked):
        for index in range(n_defect):
            seed += 1
            image, mask = picture(seed, size, True)
            tree[f"defects/{defect}/{defect}_{index:03d}.png"] = image
            if defect in masked:
                tree[f"masks/{defect}/{defect}_{index:03d}.png"] = mask
    return tree


def folder_spec(base, masked=("scratch",), unmasked=("crack",)) -> dict:
    """The config entry of :func:`folder_tree` written to ``base``."""
    return {"type": "folder", "path": str(base), "normal_dir": "normal", "normal_test_dir": "normal_test",
            "abnormal_dir": {defect: f"defects/{defect}" for defect in (*masked, *unmasked)},
            "mask_dir": {defect: f"masks/{defect}" for defect in masked}}
