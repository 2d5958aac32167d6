"""The protocol a job runs under (`setting` in the config): one name per setting, a path level and a key column.

Config → names (:func:`setting_names`), name → :class:`Setting` (:func:`parse_setting`); the one place both
directions live.

- ``one_class``: one model per category, trained on all of its defect-free images (the default).
- ``unified``: one model per dataset x model x seed trained on the defect-free images of every configured
  category (multi-class unified, ADer's default), evaluated per category. Its training job's category is
  :data:`ALL_CATEGORIES`.
- ``few_shot_k<k>``: the seed picks k defect-free training images per category; the test set is unchanged.
- ``noisy_r<ratio>``: that share of the category's anomalous test images is moved into training (as
  unlabelled training images) and out of the test set (never scored), chosen by the seed.

- ``zero_shot``: models that need no training image of the category (WinCLIP: its prompts name the
  category); the job builds the model for the category and predicts its test set, nothing is fitted. It
  pairs with the zero-shot models only, and they with it only (:func:`setting_models`).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

DEFAULT_SETTING = "one_class"
# The unified setting's training job: one per dataset x model x seed, over every configured category.
ALL_CATEGORIES = "_all"
# Wildcard pattern of a setting name (a path level).
SETTING_PATTERN = r"one_class|unified|zero_shot|few_shot_k\d+|noisy_r0\.\d+"
PLAIN = ("one_class", "unified", "zero_shot")
ZERO_SHOT = "zero_shot"
# The train rule's wildcards (Snakemake's own constraints are matched against the whole path, so a lookahead
# sees what follows the wildcard): any setting but unified, any category but ALL_CATEGORIES.
PER_CATEGORY_SETTING = rf"(?!unified/)(?:{SETTING_PATTERN})"
REAL_CATEGORY = rf"(?!{ALL_CATEGORIES}/)[A-Za-z0-9_\-]+"


class Setting(NamedTuple):
    kind: str  # one_class, unified, zero_shot, few_shot, noisy
    k: int | None = None  # few_shot: training images per category
    ratio: float | None = None  # noisy: share of the anomalous test images moved into training

    @property
    def name(self) -> str:
        if self.kind == "few_shot":
            return f"few_shot_k{self.k}"
        if self.kind == "noisy":
            return f"noisy_r{format(self.ratio, 'g')}"
        return self.kind


def parse_setting(name: str) -> Setting:
    """A setting name (a path level, a row's ``setting``) → its :class:`Setting`; unknown: ValueError."""
    if name in PLAIN:
        return Setting(name)
    if match := re.fullmatch(r"few_shot_k(\d+)", name):
        return Setting("few_shot", k=int(match.group(1)))
    if match := re.fullmatch(r"noisy_r(0\.\d+)", name):
        return Setting("noisy", ratio=float(match.group(1)))
    raise ValueError(f"unknown setting {name!r} (one_class, unified, zero_shot, few_shot_k<k>, noisy_r<ratio>)")


def _entries(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def setting_names(config: dict[str, Any]) -> list[str]:
    """The config's ``setting`` (a name, ``{few_shot: {k: [...]}}``, ``{noisy: {ratio: [...]}}`` or a list of
    those; schema-validated) as setting names, in the config's order, each once."""
    names: list[str] = []
    for entry in _entries(config.get("setting", DEFAULT_SETTING)):
        if isinstance(entry, str):
            names.append(Setting(entry).name)
        elif "few_shot" in entry:
            names += [Setting("few_shot", k=int(k)).name for k in entry["few_shot"]["k"]]
        else:
            names += [Setting("noisy", ratio=float(ratio)).name for ratio in entry["noisy"]["ratio"]]
    return list(dict.fromkeys(names))


def setting_title(name: str) -> str:
    """How the report prints a setting."""
    setting = parse_setting(name)
    if setting.kind == "few_shot":
        return f"few-shot (k = {setting.k})"
    if setting.kind == "noisy":
        return f"noisy training ({format(100 * setting.ratio, 'g')} % of anomalies)"
    return {"one_class": "one-class", "unified": "multi-class unified", "zero_shot": "zero-shot"}[setting.kind]


def unreadable_settings(config: dict[str, Any]) -> list[str]:
    """What the schema cannot say: setting names that would not read back (a noisy ratio with more than two
    decimals); :mod:`iadbench.config.load` makes them a config error."""
    bad = []
    for name in setting_names(config):
        setting = parse_setting(name) if re.fullmatch(SETTING_PATTERN, name) else None
        if setting is None or setting.name != name or (setting.ratio is not None and round(setting.ratio, 2) != setting.ratio):
            bad.append(name)
    return bad


def setting_models(setting: str, models: dict[str, bool]) -> list[str]:
    """The models (name → zero-shot capable, in config order) that run under ``setting``: zero_shot runs the
    zero-shot models, every other setting the others (a zero-shot model fitted on images would not be one)."""
    return [model for model, zero_shot in models.items() if zero_shot == (setting == ZERO_SHOT)]
