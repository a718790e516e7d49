# Two commands for a fresh clone (Linux, Python 3.11, only the package registries reachable):
#   make book   - set up .venv, execute every chapter (ci profile), build the HTML book
#   make test   - set up .venv, run the unit tests and the papermill chapter tests
# Both create .venv when it is missing and (re)install when pyproject.toml or constraints.txt changes (exact
# versions: constraints.txt; the library's own minimum versions: pyproject.toml). No conda needed.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sbir-installed
# The venv's bin first, so that the notebooks' "python3" kernel is the venv's interpreter; OpenMP threads
# wait passively (spinning torch workers otherwise starve the NumPy work between forward passes on 2 cores);
# notebooks executed headless keep only a widget bar's first state, so they draw no progress bars.
RUN := PATH="$(CURDIR)/$(BIN):$$PATH" OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE} SBIR_NO_PROGRESS=$${SBIR_NO_PROGRESS:-1}
SHARED_DATA := $(abspath ../shared/data)
MIRROR := $(if $(wildcard $(SHARED_DATA)/README.md),SBIR_DATA_MIRROR="$(SHARED_DATA)",)
PYTEST_ARGS ?=

.PHONY: book test setup benchmarks clean

$(STAMP): pyproject.toml constraints.txt
	@test -x "$(BIN)/python" || { echo "Creating $(VENV) with $(PYTHON)"; "$(PYTHON)" -m venv "$(VENV)"; }
	@"$(BIN)/python" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed, found " + sys.version' 
	"$(BIN)/python" -m pip install --progress-bar off -c constraints.txt -e ".[book,dev]"
	@touch "$@"

setup: $(STAMP)

book: $(STAMP)
	$(RUN) $(MIRROR) "$(BIN)/jupyter-book" build --builder html .
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(RUN) $(MIRROR) "$(BIN)/python" -m pytest $(PYTEST_ARGS)

benchmarks: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(RUN) "$(BIN)/python" "$$script" || exit 1; done

clean:
	rm -rf _build
