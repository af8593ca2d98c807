"""Write the API reference of vsanimsplat's public modules as HTML with pdoc (``make docs``: ``out/api/``).

The docstrings are reStructuredText-flavoured (``:class:`…``` roles, ````literals````) with Markdown tables of
parameters, which is what pdoc's ``restructuredtext`` format reads: it turns the roles into links and renders the
tables. One thing it does not know is Sphinx's ``~`` (show only the last name: ``:class:`~vsanimsplat.errors.BadOption```),
which it would print; :func:`render` drops it before pdoc reads a docstring, so the full name shows, linked.

Exits 1, listing them, when pdoc warns (an annotation it cannot resolve, a module it cannot import) or a page shows
markup that did not render (a table's ``|---|`` row, a role such as ``:func:``). ``tests/test_api_docs.py`` runs
:func:`render` the same way.

    python scripts/api_docs.py [--out out/api]
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

PUBLIC_MODULES = ("vsanimsplat", "vsanimsplat.filters", "vsanimsplat.models", "vsanimsplat.cli")
"""The modules of the reference: the package (with what its ``__all__`` names: the filters, ``open_video`` and the
exceptions' module ``errors``), the filters, the models and their loaders, and the command line's entry point."""

EXCLUDED = (r"!vsanimsplat\.filters\.",)
"""pdoc patterns (``!`` + a regular expression) of modules left out: ``filters``' ``__all__`` names the functions
``dedupe``, ``fill_holes`` and ``interpolate``, which pdoc would also take for the submodules of those names."""

KNOWN_WARNINGS = (
    # models/ensemble.py: Run is a NamedTuple under `from __future__ import annotations`; its __new__ is made in
    # collections' namespace, where pdoc cannot evaluate the string 'Model' (the signature shows it as written)
    "Error parsing type annotation ForwardRef('Model') for vsanimsplat.models.Run.__init__",
)
"""Warnings of pdoc's own limits, not of the docstrings: each starts one of pdoc's warning messages."""

UNRENDERED = {
    "a Markdown table that did not render": re.compile(r"\|\s*-{3,}\s*\|"),
    "a reST role that was not converted": re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`"),
    "Sphinx's ~ before a name": re.compile(r"<code>~"),
}
"""What a page must not show: markup the renderer left as text."""

_TILDE_ROLE = re.compile(r"(:(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`)~")


def _without_tildes(rst: Callable[[str, Path | None], str]) -> Callable[[str, Path | None], str]:
    """pdoc's reST conversion, after dropping Sphinx's ``~`` from the roles."""
    def convert(contents: str, source_file: Path | None) -> str:
        return rst(_TILDE_ROLE.sub(r"\1", contents), source_file)
    return convert


def render(out: Path) -> list[str]:
    """Write the reference of :data:`PUBLIC_MODULES` into ``out`` (``index.html``, one page per module); the
    problems found: pdoc's warnings (less :data:`KNOWN_WARNINGS`) and markup left unrendered (:data:`UNRENDERED`),
    each as one line. Needs pdoc (the ``docs`` and ``test`` extras)."""
    import pdoc
    import pdoc.docstrings
    import pdoc.render

    pdoc.render.configure(docformat="restructuredtext", search=True, show_source=False)
    original = pdoc.docstrings.rst
    pdoc.docstrings.rst = _without_tildes(original)
    pdoc.docstrings.convert.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pdoc.pdoc(*PUBLIC_MODULES, *EXCLUDED, output_directory=out)
    finally:
        pdoc.docstrings.rst = original
        pdoc.docstrings.convert.cache_clear()
    problems = [f"pdoc: {w.message}" for w in caught
                if not str(w.message).startswith(KNOWN_WARNINGS) and issubclass(w.category, UserWarning)]
    for page in sorted(out.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for what, pattern in UNRENDERED.items():
            for found in pattern.finditer(text):
                start = text.rfind("\n", 0, found.start()) + 1
                problems.append(f"{page.relative_to(out)}: {what}: {text[start:found.end() + 60].strip()[:160]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/api"), help="the folder to write (default out/api)")
    args = parser.parse_args()
    problems = render(args.out)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{args.out / 'index.html'}: {len(PUBLIC_MODULES)} modules; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
