"""The report's jinja2 environments: HTML (autoescaped) and LaTeX (every value escaped on output)."""

from __future__ import annotations

from pathlib import Path

import jinja2

LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--", "≤": r"$\leq$",
    "±": r"$\pm$", "α": r"$\alpha$", "Δ": r"$\Delta$", "†": r"\dag{}", "‡": r"\ddag{}", "−": "-",
    "≥": r"$\geq$", "×": r"$\times$",
    # A line break would end a % comment early, and a blank line inside \caption is an error.
    "\n": " ", "\r": " ",
}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(character, character) for character in text)


class RawLatex(str):
    """LaTeX the templates print as is (column specifications, macros): the code's, never data."""


def _finalize_latex(value):
    if isinstance(value, RawLatex) or not isinstance(value, str):
        return value
    return latex_escape(value)


def environment(template_dir: str | Path, latex: bool) -> jinja2.Environment:
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
