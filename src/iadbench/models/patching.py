"""Patching a library attribute for the length of a block: the one tool of the ``weights: random`` patches
(:mod:`iadbench.models.random_weights`, :mod:`iadbench.models.hooks`) and of asset recording
(:mod:`iadbench.models.required_assets`)."""

from __future__ import annotations

import contextlib
from typing import Any


def replace(stack: contextlib.ExitStack, owner: Any, attribute: str, value: Any) -> None:
    """Set ``owner.attribute`` (a module or class attribute of its own) and restore it on exit."""
    namespace = vars(owner)
    if attribute not in namespace:
        raise RuntimeError(f"random weights: {owner!r} has no attribute {attribute!r} to patch "
                           "(anomalib/torchvision/timm changed?)")
    original = namespace[attribute]  # the raw descriptor (staticmethod stays a staticmethod)
    setattr(owner, attribute, value)
    stack.callback(setattr, owner, attribute, original)
