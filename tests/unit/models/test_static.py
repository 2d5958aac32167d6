"""Constructors read from the source (models/static.py) equal the imported classes' — so the parse-time config
checks, which no longer import anomalib, cannot drift from what training builds."""

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from iadbench.config.feature_maps import _ModelClass
from iadbench.models import static
from iadbench.models.registry import (
    MODEL_CLASS_PATHS,
    chain_arguments,
    check_init_args,
    constructor_arguments,
    import_class,
    init_chain,
    resolve_class_path,
)
from iadbench.models.specs import spec_for_class

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ("config.yaml", "paper.yaml", "literature.yaml")


def _configured_class_paths() -> set[str]:
    paths = set(MODEL_CLASS_PATHS.values())
    for config in sorted((ROOT / "config").glob("*.yaml")):
        for name, spec in (yaml.safe_load(config.read_text()).get("models") or {}).items():
            paths.add(resolve_class_path(name, (spec or {}).get("class_path")))
    return paths


def _described(chain):
    return [[(parameter.name, parameter.kind, parameter.default) for parameter in parameters] for parameters in chain]


def _read_as_imported(read, imported):
    """Names and kinds equal; each default equal where the source gives a literal."""
    assert [[(name, kind) for name, kind, _ in parameters] for parameters in _described(read)] == \
        [[(name, kind) for name, kind, _ in parameters] for parameters in _described(imported)]
    for read_parameters, parameters in zip(read, imported, strict=True):
        for read_parameter, parameter in zip(read_parameters, parameters, strict=True):
            if read_parameter.default is not static.UNREADABLE:
                assert read_parameter.default == parameter.default, parameter.name


def _imported_default(model_class, name):
    for klass in model_class.__mro__:
        if "__init__" in vars(klass) and name in inspect.signature(klass.__init__).parameters:
            return inspect.signature(klass.__init__).parameters[name].default
    return None


@pytest.mark.parametrize("class_path", sorted(_configured_class_paths()))
def test_source_reading_equals_the_imported_class(class_path):
    model_class = import_class(class_path)
    read = static.init_chain(class_path)
    if read is not None:
        _read_as_imported(read, init_chain(model_class))
        assert chain_arguments(read) == constructor_arguments(model_class)
        assert static.class_name(class_path) == model_class.__name__
    assert static.defining_path(class_path) == f"{model_class.__module__}.{model_class.__qualname__}"
    real = [f"{klass.__module__}.{klass.__qualname__}" for klass in model_class.__mro__]
    paths = static.mro_paths(class_path)
    assert paths == real[:len(paths)]
    assert _ModelClass(class_path).spec() == spec_for_class(model_class)
    for name in {parameter.name for parameters in init_chain(model_class) for parameter in parameters}:
        read_default = static.init_default(class_path, name)
        if read_default is not None:
            assert read_default == (True, _imported_default(model_class, name)), name


@pytest.mark.parametrize("config", CONFIGS)
def test_configured_models_are_read_without_importing(config):
    for name, spec in (yaml.safe_load((ROOT / "config" / config).read_text())["models"] or {}).items():
        class_path = resolve_class_path(name, (spec or {}).get("class_path"))
        assert static.init_chain(class_path) is not None, name  # else every parse imports anomalib again


def test_a_typo_lists_the_imported_constructors_arguments():
    known = [argument for argument in constructor_arguments(import_class(MODEL_CLASS_PATHS["patchcore"]))
             if argument not in ("pre_processor", "post_processor", "evaluator", "visualizer")]
    with pytest.raises(ValueError) as raised:
        check_init_args("patchcore", {"init_args": {"backbone": "resnet18", "backbon": "resnet18"}})
    assert str(raised.value) == ("config key 'models.patchcore.init_args.backbon': Patchcore() has no argument "
                                 f"'backbon' (its arguments: {', '.join(known)})")


def test_validating_the_default_config_imports_neither_torch_nor_anomalib():
    script = textwrap.dedent(f"""
        import sys, yaml
        from iadbench.config.feature_maps import feature_map_warnings
        from iadbench.config.load import validate_config
        config = yaml.safe_load(open({str(ROOT / "config/config.yaml")!r}))
        validate_config(config, {str(ROOT / "workflow/schemas/config.schema.yaml")!r})
        feature_map_warnings(config)
        print(sorted({{name.split(".")[0] for name in sys.modules}} & {{"torch", "anomalib", "lightning"}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


USER_MODULE = '''
import functools


class Base:
    def __init__(self, a, /, b=1, *args, c=(2, 3)):
        pass


class Loose:
    def __init__(self, x=0, **kwargs):
        pass


class Left(Base):
    def __init__(self, left=None, **kwargs):
        super().__init__(**kwargs)


class Right(Base):
    pass


class Diamond(Left, Right):  # C3: Diamond, Left, Right, Base, object
    def __init__(self, d: int = 4, **extra):
        pass


class Strict(Left):
    def __init__(self, e=len("x")):
        pass


class Decorated(Base):
    @functools.wraps(Base.__init__)
    def __init__(self, *args, **kwargs):
        pass


class Shadowed:
    def __init__(self, s=1):
        pass


class UsesFirst(Shadowed):  # the Shadowed bound here, not the one below
    pass


class Shadowed:  # noqa: F811
    def __init__(self, t=2):
        pass


class Open(Loose):  # **kwargs all the way up to object: only the import can tell
    def __init__(self, **kwargs):
        pass
'''


def test_user_classes_read_or_imported_alike(tmp_path, monkeypatch):
    (tmp_path / "iadbench_static_probe.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, readable in [("Diamond", True), ("Strict", True), ("Decorated", False), ("Open", False),
                           ("Right", True), ("Left", True), ("Loose", False),
                           ("UsesFirst", True), ("Shadowed", True)]:
        class_path = f"iadbench_static_probe.{name}"
        read, model_class = static.init_chain(class_path), import_class(class_path)
        assert (read is not None) == readable, name
        if read is not None:
            _read_as_imported(read, init_chain(model_class))
        assert static.mro_paths(class_path) == \
            [f"{klass.__module__}.{klass.__qualname__}" for klass in model_class.__mro__][:-1]  # all but object
    assert static.init_default("iadbench_static_probe.Diamond", "c") == (True, (2, 3))
    assert static.init_default("iadbench_static_probe.UsesFirst", "s") == (True, 1)
    assert static.init_default("iadbench_static_probe.Strict", "e") is None  # not a literal: imported
    assert _ModelClass("iadbench_static_probe.Strict").default("e") == 1
    with pytest.raises(ValueError, match=r"Diamond\(\) has no argument 'e' \(its arguments: d, left, b, c\)"):
        check_init_args("mine", {"class_path": "iadbench_static_probe.Diamond", "init_args": {"e": 1}})
    with pytest.raises(ValueError, match=r"Open\(\) has no argument 'e' \(its arguments: x\)"):
        check_init_args("mine", {"class_path": "iadbench_static_probe.Open", "init_args": {"e": 1}})
    check_init_args("mine", {"class_path": "iadbench_static_probe.Diamond", "init_args": {"left": 1, "b": 2}})
    assert inspect.Parameter.VAR_KEYWORD in {parameter.kind for parameter in static.init_chain(
        "iadbench_static_probe.Diamond")[0]}
