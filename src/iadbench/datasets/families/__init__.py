"""Dataset families: one module per dataset type, each holding its catalog facts and its converter.

Every catalog module exposes ``FAMILY`` (a :class:`~iadbench.datasets.families.base.DatasetFamily`);
:data:`FAMILIES` collects them. ``folder`` (the user's own images) has no catalog entry: see its module.
"""

from __future__ import annotations

from iadbench.datasets.families import (
    btech,
    kolektor,
    mpdd,
    mvtec_3d,
    mvtec_ad,
    mvtec_ad_2,
    mvtec_loco,
    real_iad,
    visa,
)
from iadbench.datasets.families.base import Archive, DatasetFamily, DatasetUnavailableError

__all__ = ["FAMILIES", "Archive", "DatasetFamily", "DatasetUnavailableError", "family"]

# Every catalog dataset type, keyed by the config's ``type:``, in the order lists and errors show them.
FAMILIES: dict[str, DatasetFamily] = {
    module.FAMILY.key: module.FAMILY
    for module in (mvtec_ad, mvtec_3d, btech, kolektor, visa, mvtec_ad_2, mpdd, mvtec_loco, real_iad)
}


def family(dataset_type: str) -> DatasetFamily:
    """The family of a catalog dataset type, with an error listing the known types."""
    try:
        return FAMILIES[dataset_type]
    except KeyError:
        raise ValueError(f"unknown dataset type {dataset_type!r} (known: {', '.join(FAMILIES)})") from None
