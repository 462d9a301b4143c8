# The two commands a new user needs: `make demo` and `make test`. Everything installs from constraints.txt.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,dask]"
	touch $@

install: $(STAMP)

## Ingest the bundled examples (posts, a feed and images served from 127.0.0.1) into data/, offline.
demo: $(STAMP)
	$(BIN)/python examples/demo.py

## The whole test suite (installs Debian chromium for the report-page test when run as root).
test: $(STAMP)
	-sh tests/setup_browser.sh
	$(BIN)/python -m pytest

## Benchmarks (see bench/README or the README's Performance section).
bench: $(STAMP)
	$(BIN)/python bench/ingest_bench.py --posts 20000

clean:
	rm -rf $(VENV) data build *.egg-info
