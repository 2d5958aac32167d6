"""The report's jinja2 environments: HTML (autoescaped) and LaTeX (every value escaped on output), over the
templates shipped inside the package (``iadbench/report/templates``, package data)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import jinja2

# The package's templates: a folder of the installed package (a wheel installs it unpacked), read with
# importlib.resources so that an installed iadbench renders without a checkout.
TEMPLATE_DIR = Path(str(resources.files("iadbench.report") / "templates"))

LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--", "≤": r"$\leq$",
    "±": r"$\pm$", "α": r"$\alpha$", "Δ": r"$\Delta$", "†": r"\dag{}", "‡": r"\ddag{}", "−": "-",
    "≥": r"$\geq$", "×": r"$\times$",
    # A line break would end a % comment early, and a blank line inside \caption is an error.
    "\n": " ", "\r": " ",
}


def slug(text: str) -> str:
    """An HTML/LaTeX-safe identifier: letters and digits, every other run of characters one dash."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text)


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(character, character) for character in text)


class RawLatex(str):
    """LaTeX the templates print as is (column specifications, macros): the code's, never data."""


def _finalize_latex(value):
    if isinstance(value, RawLatex) or not isinstance(value, str):
        return value
    return latex_escape(value)


def environment(template_dir: str | Path | None, latex: bool) -> jinja2.Environment:
    """``template_dir``: a folder of templates that replaces the package's (None: the package's)."""
    template_dir = TEMPLATE_DIR if template_dir is None else template_dir
    if not latex:
        return jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir), autoescape=True,
                                  undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    # LaTeX: ((( ))) and ((* *)) delimiters keep braces literal; every value is escaped on output.
    latex = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir), undefined=jinja2.StrictUndefined,
        block_start_string="((*", block_end_string="*))", variable_start_string="(((",
        variable_end_string=")))", comment_start_string="((=", comment_end_string="=))",
        trim_blocks=True, lstrip_blocks=True, autoescape=False, finalize=_finalize_latex,
    )
    latex.filters["raw"] = RawLatex
    return latex
