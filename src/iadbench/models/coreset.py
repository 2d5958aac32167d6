"""Memory-bounded k-center-greedy coreset selection (PatchCore, AnomalyDINO); same indices as anomalib's.

Why: anomalib 2.7's ``KCenterGreedy.select_coreset_idxs`` keeps every selected index as a 0-d
tensor in a Python list while each of its ``coreset_size`` iterations allocates and frees an
``N x d'`` temporary (``features - center``; ``N`` patches, ``d' = 4 ln N / 0.162`` projected
dimensions, 220-320). The retained little tensors pin glibc heap regions between those
temporaries, so freed temporaries are not reused: resident memory grows by roughly one temporary
per iteration, i.e. about ``0.1 N x N x d' x 4`` bytes over the selection (quadratic in ``N``).
Measured on this project's CPU machine (torch 2.14.1, glibc malloc): ``N = 7 680`` stays at
1.1 GB; ``N = 15 360`` peaks at 17.8 GB; ``N = 30 720`` (30 images at 256 px, wide_resnet50_2
layers 2+3) grows 23 MB per iteration, ~70 GB projected over its 3 071 iterations. Setting
``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_ARENA_MAX=1`` also makes it flat, which confirms the
mechanism (heap fragmentation, not live tensors).

:class:`BoundedKCenterGreedy` runs the same algorithm (same projection, same random start, same
``linalg.vector_norm`` distances, first index of the maximum) with two preallocated ``N x d'`` /
``N`` buffers and the indices in one preallocated tensor: memory is flat at the embedding plus
``N x (d' + 2)`` floats, and the selected indices equal anomalib's for the same random state.
:func:`bounded_coreset` swaps it in for anomalib's class (restored on exit).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

import torch
from anomalib.models.components import KCenterGreedy

# Modules that build ``KCenterGreedy`` through their own global name.
CORESET_USERS = ("anomalib.models.image.patchcore.torch_model", "anomalib.models.image.anomaly_dino.torch_model")


class BoundedKCenterGreedy(KCenterGreedy):
    """anomalib's k-center-greedy with constant memory during the greedy loop."""

    def select_coreset_idxs(self) -> list[int]:
        if self.embedding.ndim == 2:
            self.model.fit(self.embedding)
            self.features = self.model.transform(self.embedding)
        else:
            self.features = self.embedding.reshape(self.embedding.shape[0], -1)
        self.reset_distances()
        features = self.features
        n, device = self.n_observations, features.device
        difference = torch.empty_like(features)
        distances = torch.empty(n, dtype=features.dtype, device=device)
        min_distances = torch.full((n,), float("inf"), dtype=features.dtype, device=device)
        selected = torch.empty(self.coreset_size, dtype=torch.long, device=device)
        # The random start is part of the coreset (as in anomalib since gh-3459).
        selected[0] = torch.randint(high=n, size=(1,), device=device).squeeze()
        for position in range(1, self.coreset_size):
            center = features[selected[position - 1]]
            torch.sub(features, center, out=difference)
            torch.linalg.vector_norm(difference, ord=2, dim=1, out=distances)
            torch.minimum(min_distances, distances, out=min_distances)
            index = torch.argmax(min_distances)  # first maximum, like torch.max(dim=0)
            min_distances.index_fill_(0, index.view(1), 0.0)
            selected[position] = index
        self.min_distances = min_distances.unsqueeze(1)
        return selected.cpu().tolist()


@contextlib.contextmanager
def bounded_coreset() -> Iterator[None]:
    """Inside the block PatchCore and AnomalyDINO select their coreset with :class:`BoundedKCenterGreedy`."""
    modules = [importlib.import_module(name) for name in CORESET_USERS]
    originals = [vars(module)["KCenterGreedy"] for module in modules]
    try:
        for module in modules:
            module.KCenterGreedy = BoundedKCenterGreedy
        yield
    finally:
        for module, original in zip(modules, originals, strict=True):
            module.KCenterGreedy = original
