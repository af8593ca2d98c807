"""The benchmark scripts in one place: what each measures, the record in ``benchmarks/`` it feeds, what it needs;
and a runner (``make bench``).

    python scripts/bench_all.py                       # the list
    python scripts/bench_all.py NAME [NAME …] [-- ARGS]   # run them, one after the other (ARGS go to each)

A script that writes its record (``writes``: by default; ``--out``: given the record's path) writes it, as its own
usage says. A script that prints a Markdown section to paste into a record that keeps several runs (``prints``) has
its output saved in ``out/bench/NAME.md``, so no record is overwritten by accident. Each run's exit code and time
are printed; the runner exits 1 when one failed. The scripts are run as their own processes with this Python
(``scripts/`` imports no script from another); their descriptions are read from their docstrings without importing
them.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
PRINTED = REPO / "out" / "bench"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark script.

    | field | type | default | meaning |
    |---|---|---|---|
    | `name` | str | | the script ``scripts/NAME.py`` |
    | `record` | str | | the file of ``benchmarks/`` its results go to (the first, where it writes several) |
    | `output` | str | | ``writes`` (the script writes the record by default), ``--out`` (when given its path) or ``prints`` (a section to paste) |
    | `needs` | str | "" | what it needs beyond the package and its weights: the footage beside the checkout (``../shared/data``), an extra, a GPU |
    """

    name: str
    record: str
    output: str
    needs: str = ""

    @property
    def script(self) -> Path:
        return SCRIPTS / f"{self.name}.py"

    def command(self, args: list[str]) -> list[str]:
        """The command that runs it with ``args``, writing its record where it takes the path."""
        out = ["--out", str(REPO / self.record)] if self.output == "--out" else []
        return [sys.executable, str(self.script), *out, *args]

    def summary(self, width: int = 116) -> str:
        """The first paragraph of the script's docstring (read, not imported), cut to ``width`` characters."""
        if not self.script.exists():
            return "(the script is absent)"
        tree = ast.parse(self.script.read_text(encoding="utf-8"))
        paragraph = " ".join((ast.get_docstring(tree) or "").strip().split("\n\n")[0].split())
        return paragraph if len(paragraph) <= width else paragraph[:width - 1].rstrip() + "…"


SHARED = "../shared/data"
BENCHMARKS = (
    Benchmark("bench", "benchmarks/bench.md", "writes", f"{SHARED} for its real triplets (skipped without)"),
    Benchmark("bench_cost", "benchmarks/cost.md", "writes", f"{SHARED} for the precision check"),
    Benchmark("bench_ops", "benchmarks/ops.md", "--out"),
    Benchmark("bench_threads", "benchmarks/threads.md", "writes"),
    Benchmark("bench_regions", "benchmarks/regions.md", "--out", SHARED),
    Benchmark("bench_dedupe", "benchmarks/dedupe.md", "prints", f"{SHARED} (or VIDEO arguments)"),
    Benchmark("bench_memory", "benchmarks/memory.md", "prints"),
    Benchmark("bench_workers", "benchmarks/workers.md", "prints", "the cluster extra (Ray)"),
    Benchmark("profile_model", "benchmarks/profile.md", "prints"),
    Benchmark("eval_quality", "benchmarks/quality.md", "writes", SHARED),
    Benchmark("eval_presets", "benchmarks/presets.md", "writes", f"{SHARED}; the bench extra (OpenCV)"),
    Benchmark("eval_retime", "benchmarks/retime.md", "--out", SHARED),
    Benchmark("eval_mixed_cadence", "benchmarks/mixed_cadence.md", "writes", f"{SHARED} (skipped without)"),
    Benchmark("eval_scenes", "benchmarks/scenes.md", "prints", SHARED),
    Benchmark("eval_analysis", "benchmarks/analysis.md", "prints"),
    Benchmark("eval_chroma", "benchmarks/analysis.md", "prints"),
    Benchmark("gpu_check", "benchmarks/gpu.md", "writes", "a CUDA GPU (elsewhere it writes to the temporary folder)"),
)
"""Every benchmark and evaluation script (``tests/test_bench_all.py`` checks that each ``bench_*``/``eval_*``
script is here)."""

BY_NAME = {b.name: b for b in BENCHMARKS}


def committed(path: str) -> str:
    """The date of the last commit of ``path`` (a checkout's file times say when it was checked out), or why none."""
    try:
        done = subprocess.run(["git", "log", "-1", "--format=%cs", "--", path], cwd=REPO, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "git not available"
    return f"committed {done.stdout.strip()}" if done.returncode == 0 and done.stdout.strip() else "not committed"


def listing() -> str:
    """What :data:`BENCHMARKS` hold: name, what it measures, its record (and when it was last committed), needs."""
    rows = []
    for b in BENCHMARKS:
        saved = f" → {PRINTED.relative_to(REPO) / (b.name + '.md')}" if b.output == "prints" else ""
        rows.append(f"{b.name}\n    {b.summary()}\n    record: {b.record} ({committed(b.record)}); {b.output}{saved}"
                    + (f"\n    needs: {b.needs}" if b.needs else ""))
    return "\n".join(rows)


def run(names: list[str], args: list[str]) -> int:
    """Run the benchmarks ``names`` one after the other with ``args``; 0 when every one exited 0, else 1."""
    failed = []
    for name in names:
        bench = BY_NAME[name]
        command = bench.command(args)
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        if bench.output == "prints":
            PRINTED.mkdir(parents=True, exist_ok=True)
            saved = PRINTED / f"{name}.md"
            with saved.open("w", encoding="utf-8") as out:
                code = subprocess.run(command, cwd=REPO, stdout=out).returncode
            where = f"{saved.relative_to(REPO)} (paste into {bench.record})"
        else:
            code = subprocess.run(command, cwd=REPO).returncode
            where = bench.record
        print(f"== {name}: exit {code} in {time.perf_counter() - start:.0f} s; {where}", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names, args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BY_NAME)}")
    chosen = parser.parse_args(names).names
    if unknown := [n for n in chosen if n not in BY_NAME]:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    if not chosen:
        print(listing())
        return 0
    return run(chosen, args)


if __name__ == "__main__":
    sys.exit(main())
