"""The API reference renders: pdoc writes a page for each public module, without warnings and without markup it
left as text (a Markdown table, a reST role), as ``make docs`` does (``scripts/api_docs.py``)."""

from __future__ import annotations


import pytest
from tests.helpers import load_script

pytest.importorskip("pdoc", reason="pdoc is not installed (the test and docs extras have it): pip install -e '.[docs]'")



def _api_docs():
    return load_script("api_docs")


def test_the_public_api_renders_without_warnings_or_raw_markup(tmp_path):
    api_docs = _api_docs()
    assert api_docs.render(tmp_path) == []
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    assert {"index.html", "vsanimsplat.html", "vsanimsplat/filters.html", "vsanimsplat/models.html",
            "vsanimsplat/errors.html", "vsanimsplat/cli.html"} <= pages
    package = (tmp_path / "vsanimsplat.html").read_text(encoding="utf-8")
    for name in ("open_video", "dedupe", "interpolate", "resize", "fill_holes", "write_timecodes"):
        assert f'id="{name}"' in package, name
    assert "<table>" in package and "<th>parameter</th>" in package  # the parameter tables, rendered
    errors = (tmp_path / "vsanimsplat" / "errors.html").read_text(encoding="utf-8")
    assert all(f'id="{kind}"' in errors for kind in ("AnimSplatError", "BadOption", "WeightsError", "given_to"))
    assert 'id="main"' in (tmp_path / "vsanimsplat" / "cli.html").read_text(encoding="utf-8")


def test_sphinx_tildes_are_dropped_before_pdoc_reads_a_role():
    convert = _api_docs()._without_tildes(lambda text, source: text)
    assert convert("see :class:`~vsanimsplat.errors.BadOption` and :func:`open_video`", None) == (
        "see :class:`vsanimsplat.errors.BadOption` and :func:`open_video`")
