# The two commands of the README: `make demo` (set up + run the main job) and `make test`.
# Both create .venv with Python 3.12+ (VapourSynth R81 wheels need CPython >= 3.12).

VENV := .venv
BIN := $(VENV)/bin
# python3.12 on PATH (a pyenv shim only counts if it really runs), else any pyenv 3.12.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

.PHONY: setup weights demo lint check test docs bench docs-images clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	@if [ -z "$(PYTHON)" ]; then \
		echo "error: Python 3.12 not found on PATH or under pyenv (~/.pyenv/versions/3.12*)."; \
		echo "       Install it (e.g. 'pyenv install 3.12') or run: make PYTHON=/path/to/python3.12 $(MAKECMDGOALS)"; \
		exit 1; fi
	@echo "Using $(PYTHON)"
	"$(PYTHON)" -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test,cluster,plot]"
	$(BIN)/vapoursynth config
	touch $@

weights: setup
	$(BIN)/vsanimsplat models fetch all

# The default model runs at 320x180 (--width 320) so the demo takes a few minutes on 2 CPU cores.
demo: setup weights
	mkdir -p out
	$(BIN)/python scripts/make_demo_clip.py out/demo.mkv
	$(BIN)/vsanimsplat report out/demo.mkv --timecodes out/demo.timecodes.txt
	$(BIN)/vsanimsplat run out/demo.mkv -o out/demo-60fps.mkv --fps 60000/1001 --width 320 --overwrite

# The linter and the type checker (both configured in pyproject.toml); CI runs them before make test.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# The fast loop: lint, then the tests not marked slow (end-to-end runs, the published weights' networks, Ray, child
# processes are), meant to take under 3 minutes.
check: lint
	$(BIN)/python -m pytest -m "not slow"

test: setup weights
	$(BIN)/python -m pytest

# The API reference of the public modules (pdoc, from the test extra; or pip install -e ".[docs]"): out/api/index.html.
# Fails, listing them, on pdoc's warnings and on markup left unrendered.
docs: setup
	$(BIN)/python scripts/api_docs.py --out out/api

# The benchmark scripts, each with its record in benchmarks/ (scripts/bench_all.py); RUN="bench_ops eval_scenes" runs
# those, one after the other (ARGS="..." are given to each).
bench: setup
	$(BIN)/python scripts/bench_all.py $(RUN) $(if $(ARGS),-- $(ARGS))

# The README's pictures of the demo cartoon (docs/cadence.png, docs/preview.jpg), drawn by the commands it shows.
docs-images: setup weights
	$(BIN)/python scripts/make_docs_images.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .mypy_cache .ruff_cache
