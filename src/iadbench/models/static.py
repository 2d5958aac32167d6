"""Model classes read from their source, without importing them: constructor signatures, defaults, bases.

Importing ``anomalib.models`` costs ~10 s (torch, lightning, timm) and every Snakefile parse (``snakemake -n``,
``--lint``, each SLURM job) would pay it only to check ``init_args`` keys and read constructor defaults.
Here a class path (``anomalib.models.Padim``) is followed through the ``from .x import Y`` re-exports of the
``__init__.py`` files to its ``class`` statement (with :mod:`ast`; the package's directory comes from
:func:`importlib.util.find_spec` of the top-level name, which executes nothing), and up its bases in C3 order.

Every answer is exact or ``None``: "cannot tell from the source" (an unusual structure, a decorated class or
``__init__``, a base outside the packages read here, a non-literal default…), and the caller then imports the
class. Only the class path's own top-level package and anomalib are read; any other base (``nn.Module``,
``LightningModule``, ``object``) is opaque, and nothing past the first opaque class of the MRO is answered.
The unit tests compare every registered and configured model's reading with the imported class's.
"""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READ_PACKAGES = ("anomalib",)  # besides the class path's own top-level package
UNREADABLE = object()  # a default that is not a literal
_COMPOUND = (ast.If, ast.Try, ast.TryStar, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While, ast.Match)


class _Unknown(Exception):
    """The source alone cannot decide."""


@dataclass(frozen=True)
class _Class:
    path: str  # module.Name where the class statement is
    node: ast.ClassDef
    module: str
    package: bool  # whether ``module`` is a package (relative imports resolve from itself)


@dataclass(frozen=True)
class _Opaque:
    path: str


@functools.cache
def _top_spec(top: str) -> importlib.machinery.ModuleSpec | None:
    try:
        return importlib.util.find_spec(top)  # a top-level name: found, not executed
    except (ImportError, ValueError):
        return None


def _module_file(module: str) -> tuple[Path, bool]:
    """(source file, is a package) of a dotted module name, as the import system would find it."""
    top, *rest = module.split(".")
    spec = _top_spec(top)
    if spec is None:
        raise _Unknown(module)
    if not rest:
        if not spec.origin or not spec.origin.endswith(".py"):
            raise _Unknown(module)
        return Path(spec.origin), spec.submodule_search_locations is not None
    for location in spec.submodule_search_locations or ():
        folder = Path(location).joinpath(*rest[:-1])
        if (folder / rest[-1]).is_dir():  # a package (regular or namespace) shadows a module
            init = folder / rest[-1] / "__init__.py"
            if init.is_file():
                return init, True
            raise _Unknown(module)
        if any((folder / f"{rest[-1]}{suffix}").exists() for suffix in importlib.machinery.EXTENSION_SUFFIXES):
            raise _Unknown(module)
        if (folder / f"{rest[-1]}.py").is_file():
            return folder / f"{rest[-1]}.py", False
    raise _Unknown(module)


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _binds(statement: ast.stmt, name: str) -> bool:
    if isinstance(statement, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return statement.name == name
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return any((alias.asname or alias.name.split(".")[0]) == name or alias.name == "*"
                   for alias in statement.names)
    targets = [node.id for node in ast.walk(statement) if isinstance(node, ast.Name)
               and isinstance(node.ctx, ast.Store | ast.Del)]
    return name in targets


def _binding(module: str, name: str, before: int | None = None) -> tuple[ast.stmt | None, bool]:
    """The top-level statement that binds ``name`` in ``module`` last (before line ``before``; None: none), and
    whether the module is a package."""
    path, package = _module_file(module)
    body = [statement for statement in _tree(path).body if before is None or statement.lineno < before]
    found = None
    for statement in body:
        if isinstance(statement, _COMPOUND):
            if any(_binds(node, name) for node in ast.walk(statement) if isinstance(node, ast.stmt)):
                raise _Unknown(f"{module}.{name}")  # bound conditionally
        elif _binds(statement, name):
            found = statement  # the last binding wins
        elif isinstance(statement, ast.FunctionDef) and statement.name == "__getattr__":
            raise _Unknown(f"{module}.{name}")  # a lazy module: names come from code
    return found, package


def _absolute(statement: ast.ImportFrom, module: str, package: bool) -> str:
    if not statement.level:
        return statement.module or ""
    parts = module.split(".")
    keep = len(parts) - statement.level + (1 if package else 0)
    if keep <= 0:
        raise _Unknown(module)
    return ".".join(parts[:keep] + ([statement.module] if statement.module else []))


def _lookup(module: str, name: str, readable: tuple[str, ...], depth: int = 0,
            before: int | None = None) -> _Class | _Opaque:
    """What ``module.name`` is (at line ``before``): a class statement read here, or an opaque class (outside
    ``readable``)."""
    if module.split(".")[0] not in readable:
        return _Opaque(f"{module}.{name}")
    if depth > 30:
        raise _Unknown(f"{module}.{name}")
    statement, package = _binding(module, name, before)
    if isinstance(statement, ast.ClassDef):
        return _Class(f"{module}.{name}", statement, module, package)
    if isinstance(statement, ast.ImportFrom) and all(alias.name != "*" for alias in statement.names):
        alias = next(alias for alias in statement.names if (alias.asname or alias.name) == name)
        return _lookup(_absolute(statement, module, package), alias.name, readable, depth + 1)
    raise _Unknown(f"{module}.{name}")


def _base(klass: _Class, expression: ast.expr, readable: tuple[str, ...]) -> _Class | _Opaque:
    if isinstance(expression, ast.Name):
        statement, _ = _binding(klass.module, expression.id, klass.node.lineno)  # as bound at the class statement
        if statement is None:
            return _Opaque(f"builtins.{expression.id}")
        if isinstance(statement, ast.ClassDef | ast.ImportFrom):
            return _lookup(klass.module, expression.id, readable, before=klass.node.lineno)
    return _Opaque(f"{klass.module}:{ast.unparse(expression)}")  # nn.Module, Generic[T]…: not read


def _linearize(klass: _Class | _Opaque, readable: tuple[str, ...], depth: int = 0) -> list[_Class | _Opaque]:
    """C3 linearization, opaque classes as leaves: exact up to the first opaque class (their hidden
    ancestors are outside the packages read here, so they cannot reorder the classes read)."""
    if isinstance(klass, _Opaque) or klass.node.decorator_list or depth > 30:
        return [klass if isinstance(klass, _Opaque) else _Opaque(klass.path)]
    bases = [_base(klass, expression, readable) for expression in klass.node.bases] or [_Opaque("builtins.object")]
    sequences = [_linearize(base, readable, depth + 1) for base in bases] + [bases]
    result: list[_Class | _Opaque] = [klass]
    while sequences := [sequence for sequence in sequences if sequence]:
        for sequence in sequences:
            head = sequence[0]
            if not any(head.path in (entry.path for entry in other[1:]) for other in sequences):
                break
        else:
            raise _Unknown(klass.path)  # no consistent order (Python would refuse the class too)
        result.append(head)
        sequences = [[entry for entry in sequence if entry.path != head.path] for sequence in sequences]
    return result


@functools.cache
def _mro(class_path: str) -> tuple[_Class | _Opaque, ...] | None:
    """The class path's MRO up to and including its first opaque class; None: not readable."""
    module, _, name = class_path.rpartition(".")
    readable = (*READ_PACKAGES, module.split(".")[0])
    try:
        target = _lookup(module, name, readable)
        if isinstance(target, _Opaque):
            return None
        mro = _linearize(target, readable)
    except (_Unknown, OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    opaque = next((index for index, entry in enumerate(mro) if isinstance(entry, _Opaque)), len(mro) - 1)
    return tuple(mro[:opaque + 1])


def _default(node: ast.expr | None) -> Any:
    if node is None:
        return inspect.Parameter.empty
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNREADABLE


def _init(klass: _Class) -> list[inspect.Parameter] | None:
    """The parameters of the class's own ``__init__`` (as ``inspect.signature`` lists them), None if it has none."""
    found = None
    for statement in klass.node.body:
        if isinstance(statement, _COMPOUND) and any(
                _binds(node, "__init__") for node in ast.walk(statement) if isinstance(node, ast.stmt)):
            raise _Unknown(klass.path)
        if _binds(statement, "__init__"):
            if not isinstance(statement, ast.FunctionDef) or statement.decorator_list:
                raise _Unknown(klass.path)
            found = statement
    if found is None:
        return None
    arguments, kind = found.args, inspect.Parameter
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    parameters = [kind(argument.arg, kind.POSITIONAL_ONLY if index < len(arguments.posonlyargs)
                       else kind.POSITIONAL_OR_KEYWORD, default=_default(default))
                  for index, (argument, default) in enumerate(zip(positional, defaults, strict=True))]
    if arguments.vararg:
        parameters.append(kind(arguments.vararg.arg, kind.VAR_POSITIONAL))
    parameters += [kind(argument.arg, kind.KEYWORD_ONLY, default=_default(default))
                   for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)]
    if arguments.kwarg:
        parameters.append(kind(arguments.kwarg.arg, kind.VAR_KEYWORD))
    return parameters


def _has_var_keyword(parameters: list[inspect.Parameter]) -> bool:
    return any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters)


def class_name(class_path: str) -> str | None:
    """The ``__name__`` of the class (its ``class`` statement's name; a re-export may rename it)."""
    mro = _mro(class_path)
    return mro[0].node.name if mro and isinstance(mro[0], _Class) else None


def defining_path(class_path: str) -> str | None:
    """``module.Name`` of the class statement a class path leads to (``anomalib.models.Padim`` →
    ``anomalib.models.image.padim.lightning_model.Padim``)."""
    mro = _mro(class_path)
    return mro[0].path if mro and isinstance(mro[0], _Class) else None


def init_chain(class_path: str) -> list[list[inspect.Parameter]] | None:
    """The ``__init__`` parameters of each class up the MRO that defines one, up to the first without
    ``**kwargs`` (what :func:`iadbench.models.registry.init_chain` reads from the imported class)."""
    chain = []
    try:
        for klass in _mro(class_path) or ():
            if isinstance(klass, _Opaque):
                return None
            parameters = _init(klass)
            if parameters is not None:
                chain.append(parameters)
                if not _has_var_keyword(parameters):
                    return chain
    except _Unknown:
        return None
    return None


def init_default(class_path: str, name: str) -> tuple[bool, Any] | None:
    """(whether a constructor up the MRO takes ``name``, its default), as the first ``__init__`` up the MRO
    with that parameter gives it; None: not readable (an opaque class first, or a non-literal default)."""
    try:
        for klass in _mro(class_path) or ():
            if isinstance(klass, _Opaque):
                return None
            parameter = next((parameter for parameter in _init(klass) or () if parameter.name == name), None)
            if parameter is not None:
                return None if parameter.default is UNREADABLE else (True, parameter.default)
    except _Unknown:
        return None
    return None


def mro_paths(class_path: str) -> list[str] | None:
    """``module.Name`` of each class read up the MRO, before the first opaque class; None: not readable."""
    mro = _mro(class_path)
    return None if mro is None else [klass.path for klass in mro if isinstance(klass, _Class)]
