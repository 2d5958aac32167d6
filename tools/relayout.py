"""Issue #23's mechanical move: top-level modules of src/iadbench into subpackages, imports rewritten.

Re-runnable on a newer tree (after merging main): a module already moved is skipped, and the rewrite only
touches names of the old layout, so running it twice changes nothing the second time.

    python tools/relayout.py            # git mv + rewrite every tracked text file
    python tools/relayout.py --check    # list the files that still name an old module (exit 1 if any)

Rewritten: ``from iadbench.old import x``, ``import iadbench.old``, ``from iadbench import old`` and every
``iadbench.old`` / ``iadbench/old.py`` string (docstrings, mock targets, docs, rules, README).
``NAMES`` moves single names of a module whose content was split by hand (applied to ``from M import``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "iadbench"

# old module (under iadbench) -> new module. Layers, low to high:
# core < datasets, metrics < models < results, config < stats < run < report < continual < serve < cli
MOVES: dict[str, str] = {
    "files": "core.files",
    "provenance": "core.provenance",
    "offline": "core.offline",
    "gpus": "core.gpus",
    "runlock": "core.runlock",
    "metrics": "metrics.measures",
    "assets": "models.assets",
    "results": "results.rows",
    "metric_names": "results.columns",
    "config": "config.base",
    "continual_config": "config.continual",
    "predict_config": "config.predict",
    "uncertainty": "stats.uncertainty",
    "significance": "stats.significance",
    "ranking": "stats.ranking",
    "evidence": "stats.evidence",
    "train": "run.train",
    "evaluate": "run.evaluate",
    "timing": "run.timing",
    "attempts": "run.attempts",
    "report": "report.render",
    "templating": "report.templating",
    "tables": "report.tables",
    "figures": "report.figures",
    "paper": "report.paper",
    "video_report": "report.video",
    "job_resources": "report.job_resources",
    "labels": "report.labels",
    "references": "report.references",
    "reproduction": "report.reproduction",
    "distributions": "report.distributions",
    "gallery": "report.gallery",
    "continual": "continual.step",
    "continual_results": "continual.results",
    "continual_report": "continual.report",
    "predict": "serve.predict",
    "export": "serve.export",
    "publish": "serve.publish",
    "job_model": "serve.job_model",
}

# (module, name) -> module that now holds the name (hand-made splits; applied to `from module import name`).
NAMES: dict[tuple[str, str], str] = {}

SKIP_SUFFIXES = (".lock", ".parquet", ".png", ".npz", ".csv")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def anchor_gitignore() -> None:
    """``results/`` in .gitignore would also ignore the package's ``src/iadbench/results/``: anchor it."""
    path = ROOT / ".gitignore"
    lines = path.read_text().splitlines()
    anchored = ["/" + line if line in ("results/", "resources/") else line for line in lines]
    if anchored != lines:
        path.write_text("\n".join(anchored) + "\n")
    # the same for ruff's exclude (a bare name excludes every folder of that name)
    pyproject = ROOT / "pyproject.toml"
    pyproject.write_text(re.sub(r'"(results|resources)"', r'"./\1"', pyproject.read_text()))


def move_modules() -> None:
    anchor_gitignore()
    for old, new in MOVES.items():
        source = PKG / f"{old}.py"
        target = PKG / (new.replace(".", "/") + ".py")
        if not source.exists() or target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        init = target.parent / "__init__.py"
        if not init.exists():
            init.write_text(f'"""{target.parent.name}: see docs/layout.md."""\n')
            git("add", str(init.relative_to(ROOT)))
        git("mv", str(source.relative_to(ROOT)), str(target.relative_to(ROOT)))


def _children(new_parent: str) -> set[str]:
    """Submodules (and subpackages) a package of the new layout holds: never to be read as an old name."""
    folder = PKG / new_parent.replace(".", "/")
    names = {module.rpartition(".")[2] for module in MOVES.values() if module.startswith(new_parent + ".")}
    if folder.is_dir():
        names |= {path.stem for path in folder.iterdir() if path.suffix == ".py" or path.is_dir()}
    return names - {"__init__", "__pycache__"}


def _dotted_pattern(old: str) -> re.Pattern[str]:
    # `iadbench.old` not followed by a name character, nor by one of the new package's own submodules
    # (iadbench.metrics.measures must not become iadbench.metrics.measures.measures on a second run).
    children = sorted(_children(old))
    guard = rf"(?!\.(?:{'|'.join(map(re.escape, children))})\b)" if children else ""
    return re.compile(rf"\biadbench\.{re.escape(old)}(?![\w]){guard}(?![ \t]+import\b)")


PATTERNS = [(old, new, _dotted_pattern(old)) for old, new in sorted(MOVES.items(), key=lambda item: -len(item[0]))]
FROM_PACKAGE = re.compile(r"^(?P<indent>[ \t]*)from iadbench import (?P<names>[\w, ]+?)[ \t]*(?P<comment>#.*)?$",
                          re.MULTILINE)
FROM_MODULE = re.compile(r"^(?P<indent>[ \t]*)from (?P<module>iadbench(?:\.\w+)+) import (?P<names>\([^)]*\)|[^\n#]+)"
                         r"(?P<comment>[ \t]*#[^\n]*)?$", re.MULTILINE)


def _from_package(match: re.Match[str]) -> str:
    """``from iadbench import a, b`` -> one line per moved module (keeping the name the code uses)."""
    indent, comment = match["indent"], match["comment"]
    kept, lines = [], []
    for item in (name.strip() for name in match["names"].split(",") if name.strip()):
        name, _, alias = item.partition(" as ")
        name, alias = name.strip(), alias.strip() or name.strip()
        if name in MOVES:
            parent, _, leaf = MOVES[name].rpartition(".")
            lines.append(f"{indent}from iadbench.{parent} import {leaf}" + (f" as {alias}" if leaf != alias else ""))
        else:
            kept.append(item)
    if not lines:
        return match[0]
    if kept:
        lines.insert(0, f"{indent}from iadbench import {', '.join(kept)}")
    if comment:
        lines[0] += f"  {comment}"
    return "\n".join(lines)


def _is_child(package: str, name: str) -> bool:
    return name in _children(package)


def _from_module(match: re.Match[str]) -> str:
    """``from iadbench.M import ...`` with M an old module -> its new module (unless the names are the
    new package's own submodules, e.g. ``from iadbench.metrics import measures``); then names moved
    by hand (NAMES) -> one line per module."""
    module = match["module"].removeprefix("iadbench.")
    indent, comment = match["indent"], match["comment"] or ""
    body = re.sub(r"#[^\n]*", "", match["names"])  # comments inside the parentheses
    items = [item.strip() for item in body.strip("()").replace("\n", " ").split(",") if item.strip()]
    names = [item.split(" as ")[0].strip() for item in items]
    if module in MOVES and not all(_is_child(module, name) for name in names):
        module = MOVES[module]
    by_module: dict[str, list[str]] = {}
    for item, name in zip(items, names, strict=True):
        by_module.setdefault(NAMES.get((module, name), module), []).append(item)
    if len(by_module) == 1:  # the whole statement goes to one module: only its name changes
        return match[0].replace(match["module"], f"iadbench.{module}", 1)
    lines = []
    for target, targets in sorted(by_module.items()):
        line = f"{indent}from iadbench.{target} import {', '.join(targets)}"
        if len(line) > 110:
            line = (f"{indent}from iadbench.{target} import (\n" + "".join(f"{indent}    {n},\n" for n in targets)
                    + f"{indent})")
        lines.append(line)
    return "\n".join(lines) + comment


def rewrite(text: str, python: bool) -> str:
    if python:
        text = FROM_MODULE.sub(_from_module, text)
        text = FROM_PACKAGE.sub(_from_package, text)
    for old, new, pattern in PATTERNS:
        text = pattern.sub(f"iadbench.{new}", text)
        text = re.sub(rf"\biadbench/{re.escape(old)}\.py\b", f"iadbench/{new.replace('.', '/')}.py", text)
    return text


def tracked_text_files() -> list[Path]:
    paths = [ROOT / line for line in git("ls-files").splitlines()]
    paths += [ROOT / line for line in git("ls-files", "--others", "--exclude-standard").splitlines()]
    return [path for path in paths if path.is_file() and not path.name.endswith(SKIP_SUFFIXES)
            and path.resolve() != Path(__file__).resolve()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report files that still use old names")
    args = parser.parse_args()
    if not args.check:
        move_modules()
    stale = []
    for path in tracked_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        new = rewrite(text, True)
        if new != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(new)
    if not args.check:  # the rewritten imports in isort order (the project's ruff selects I)
        subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "--select", "I", "--quiet",
                        "src", "tests", "benchmarks", "workflow/scripts"], cwd=ROOT, check=False)
    print("\n".join(map(str, stale)) or "nothing to rewrite")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
