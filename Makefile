# Two commands for a fresh clone (Linux, Python 3.11, only the package registries reachable):
#   make book   - set up .venv, execute every chapter once (ci profile), build the HTML book from those runs
#   make test   - set up .venv, run the unit tests and the papermill chapter tests, then build the book from the
#                 chapter tests' runs and check every page in headless Chromium
# Both create .venv when it is missing and (re)install when pyproject.toml or constraints.txt changes (exact
# versions: constraints.txt; the library's own minimum versions: pyproject.toml). No conda needed.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sbir-installed
# The venv's bin first, so that the notebooks' "python3" kernel is the venv's interpreter; notebooks executed
# headless keep only a widget bar's first state, so they draw no progress bars. OpenMP keeps its default wait
# policy (1.4-2x faster here than OMP_WAIT_POLICY=PASSIVE, same numbers: benchmarks/omp_wait_policy.py); on a CPU
# shared with other busy processes, `OMP_WAIT_POLICY=PASSIVE make ...` is kinder to them.
RUN := PATH="$(CURDIR)/$(BIN):$$PATH" SBIR_NO_PROGRESS=$${SBIR_NO_PROGRESS:-1}
SHARED_DATA := $(abspath ../shared/data)
MIRROR := $(if $(wildcard $(SHARED_DATA)/README.md),SBIR_DATA_MIRROR="$(SHARED_DATA)",)
PYTEST_ARGS ?=

.PHONY: book book-check colab-check test setup benchmarks clean

$(STAMP): pyproject.toml constraints.txt
	@test -x "$(BIN)/python" || { echo "Creating $(VENV) with $(PYTHON)"; "$(PYTHON)" -m venv "$(VENV)"; }
	@"$(BIN)/python" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed, found " + sys.version' 
	"$(BIN)/python" -m pip install --progress-bar off -c constraints.txt -e ".[book,dev]"
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium (the browser check of the built book)"; \
	    apt-get install -y -qq chromium >/dev/null || echo "chromium could not be installed: the browser check will skip"; \
	  else echo "No chromium and no apt-get as root here: the book's browser check will skip (apt-get install chromium)"; fi; }
	@touch "$@"

setup: $(STAMP)

# Every chapter executed once (papermill, ci profile), then the reproducibility report, then Jupyter Book over the
# executed copies (execution off, warnings as errors); prints the time it took. `make book-check` then reads every
# page in headless Chromium (book/browser_check.py; screenshots in _build/screens).
book: $(STAMP)
	$(RUN) $(MIRROR) "$(BIN)/python" book/build.py

book-check: $(STAMP)
	$(RUN) "$(BIN)/python" book/browser_check.py _build/html --screens _build/screens

# Every chapter in a fresh virtual environment that has only what Colab has (torch, the kernel), installing sbir_lib
# through its own setup cell from a wheel built here (book/colab_check.py); CHAPTERS="ch00 ch02" for some.
colab-check: $(STAMP)
	$(RUN) $(MIRROR) "$(BIN)/python" book/colab_check.py $(if $(CHAPTERS),--only $(CHAPTERS),)

test: $(STAMP)
	$(RUN) $(MIRROR) "$(BIN)/python" -m pytest $(PYTEST_ARGS)

benchmarks: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(RUN) "$(BIN)/python" "$$script" || exit 1; done

clean:
	rm -rf _build
