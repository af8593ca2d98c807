"""scripts/bench_all.py: every benchmark script is listed with its record, and the runner runs the ones named,
saving a printed section under out/bench/ instead of over a record."""

from __future__ import annotations

import sys

import pytest
from tests.helpers import load_script



@pytest.fixture
def bench_all():
    return load_script("bench_all")


def test_every_benchmark_script_is_listed_with_its_record(bench_all, capsys):
    scripts = {p.stem for p in bench_all.SCRIPTS.glob("*.py") if p.stem.startswith(("bench_", "eval_"))}
    assert scripts - {"bench_all"} <= set(bench_all.BY_NAME)
    assert all(b.output in ("writes", "--out", "prints") and b.record.startswith("benchmarks/")
               for b in bench_all.BENCHMARKS)
    assert bench_all.main([]) == 0
    listed = capsys.readouterr().out
    assert all(f"{b.name}\n" in listed and b.record in listed for b in bench_all.BENCHMARKS)
    with pytest.raises(SystemExit):
        bench_all.main(["no_such_benchmark"])


def test_the_runner_gives_the_record_or_saves_what_is_printed(bench_all, tmp_path, monkeypatch, capsys):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "says.py").write_text('"""Prints a section."""\nimport sys\nprint("| a |", *sys.argv[1:])\n')
    (tmp_path / "scripts" / "writes.py").write_text('"""Takes --out."""\nimport sys\nprint(sys.argv[1:])\n'
                                                    'sys.exit(3)\n')
    monkeypatch.setattr(bench_all, "REPO", tmp_path)
    monkeypatch.setattr(bench_all, "SCRIPTS", tmp_path / "scripts")
    monkeypatch.setattr(bench_all, "PRINTED", tmp_path / "out" / "bench")
    monkeypatch.setattr(bench_all, "BY_NAME", {
        "says": bench_all.Benchmark("says", "benchmarks/says.md", "prints"),
        "writes": bench_all.Benchmark("writes", "benchmarks/writes.md", "--out")})
    assert bench_all.main(["says", "--", "--fast"]) == 0
    assert (tmp_path / "out" / "bench" / "says.md").read_text() == "| a | --fast\n"
    assert bench_all.Benchmark("writes", "benchmarks/writes.md", "--out").command(["-q"]) == [
        sys.executable, str(tmp_path / "scripts" / "writes.py"), "--out", str(tmp_path / "benchmarks" / "writes.md"), "-q"]
    assert bench_all.main(["says", "writes"]) == 1  # writes exits 3
    assert "failed: writes" in capsys.readouterr().err
