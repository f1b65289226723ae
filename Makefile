# repalign — one-command set-up and tests.
#   make install   idempotent: R + R packages (apt on Debian/Ubuntu, else CRAN, versions in requirements/r-packages.tsv),
#                  .venv from the lock (requirements/lock.txt; TORCH=cuda|cpu), the R package
#   make lock      refresh requirements/lock.txt (UPGRADE=1: newest versions pyproject.toml allows)
#   make test      install (+ headless chromium for the report test), then lint, pytest and testthat; fails if any fails
#   make lint      ruff (check + format --check) over the Python tree, lintr (.lintr) over the R code
#   make demo      install, then the offline demo study (analysis/configs/demo.toml)
#   make features  install, then the default offline feature extraction
#   make slurm-up / slurm-down   a one-node SLURM cluster on localhost; make test-slurm runs the tests marked slurm
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RLIB   := $(CURDIR)/.rlib
export R_LIBS := $(RLIB)$(if $(R_LIBS),:$(R_LIBS))
export RETICULATE_PYTHON := $(CURDIR)/$(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

APT_R_PACKAGES := r-base-core r-base-dev r-cran-lme4 r-cran-brms r-cran-rstan r-cran-tidyverse \
  r-cran-broom.mixed r-cran-testthat r-cran-reticulate r-cran-jsonlite r-cran-optparse r-cran-rmarkdown \
  r-cran-roxygen2 r-cran-lintr
R_SOURCES := DESCRIPTION NAMESPACE $(wildcard R/*.R)

.PHONY: help lock lint lint-python lint-r bench-gpu install install-r install-python install-rpkg install-browser test test-python test-r test-slurm slurm-up slurm-down demo features bench clean

help:
	@echo "make install [TORCH=cuda|cpu] | lock [UPGRADE=1] | test | lint | demo | features | bench | slurm-up | test-slurm | slurm-down | clean"

install: install-r install-python install-rpkg

# --- R and its packages --------------------------------------------------------------------
install-r: .stamp-r
.stamp-r: Makefile requirements/r-packages.tsv
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(APT_R_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	  fi; \
	  # Debian's virtual r-cran-bh has no include/: brms/rstan need Boost headers there. \
	  if [ -d /usr/lib/R/site-library/BH ] && [ ! -e /usr/lib/R/site-library/BH/include ]; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO ln -s /usr/include /usr/lib/R/site-library/BH/include; \
	  fi; \
	  scripts/r-packages.sh check-debian; \
	elif command -v Rscript >/dev/null 2>&1; then \
	  scripts/r-packages.sh install-cran; \
	else echo "R not found and no apt-get: install R >= 4.2 first" >&2; exit 1; fi
	@Rscript -e 'stopifnot(requireNamespace("lme4"), requireNamespace("brms"), requireNamespace("testthat"))'
	@touch $@

# --- Python: the locked environment (requirements/lock.txt) -------------------------------------
# TORCH=cuda (default): PyPI's torch build as locked (CUDA libraries on Linux; it also runs on a CPU).
# TORCH=cpu: the same torch/torchvision versions as PyTorch's CPU build (no CUDA libraries, ~5 GB less),
# from PyTorch's CPU index. A change of the lock or of TORCH rebuilds .venv from scratch.
TORCH ?= cuda
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
TORCH_VERSION := $(shell sed -n 's/^torch==\([^ ;]*\).*/\1/p' requirements/lock.txt)
TORCHVISION_VERSION := $(shell sed -n 's/^torchvision==\([^ ;]*\).*/\1/p' requirements/lock.txt)

install-python: .stamp-venv
.stamp-venv: pyproject.toml requirements/lock.txt $(if $(filter-out $(TORCH),$(shell cat .stamp-venv 2>/dev/null)),FORCE) | .stamp-r
	@case "$(TORCH)" in cuda|cpu) ;; *) echo "TORCH=$(TORCH): expected cuda or cpu" >&2; exit 2;; esac
	@rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	@echo "Python: installing requirements/lock.txt into a new $(VENV) (torch build: $(TORCH))"
	@$(PYTHON) scripts/lock.py requirements --torch $(TORCH) > $(VENV)/requirements-$(TORCH).txt
	$(PY) -m pip install -q --require-hashes --no-deps -r $(VENV)/requirements-$(TORCH).txt
	@if [ "$(TORCH)" = cpu ]; then \
	  echo "Python: torch==$(TORCH_VERSION)+cpu torchvision==$(TORCHVISION_VERSION)+cpu from $(TORCH_CPU_INDEX)"; \
	  $(PY) -m pip install -q --no-deps --index-url $(TORCH_CPU_INDEX) \
	    torch==$(TORCH_VERSION)+cpu torchvision==$(TORCHVISION_VERSION)+cpu; fi
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@echo $(TORCH) > $@

# refresh the lock (uv, from PyPI): make lock keeps the locked versions that still fit; make lock UPGRADE=1
# takes the newest the ranges in pyproject.toml allow
FORCE:

lock:
	$(PYTHON) scripts/lock.py compile $(if $(UPGRADE),--upgrade)

# --- the R package, into a project-local library -----------------------------------------------
install-rpkg: .stamp-rpkg
.stamp-rpkg: $(R_SOURCES) .stamp-r
	@mkdir -p $(RLIB)
	R CMD INSTALL --no-test-load --library=$(RLIB) . >/dev/null
	@touch $@

# --- a headless browser for the report test (Debian chromium + chromedriver) -------------------
install-browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages: chromium chromium-driver"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq chromium chromium-driver; \
	  else echo "chromium/chromedriver not found and no apt-get: install them for tests/python/test_report_browser.py" >&2; fi; \
	fi

# --- tests -----------------------------------------------------------------------------------
test: install install-browser
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory test-python || status=1; \
	$(MAKE) --no-print-directory test-r || status=1; \
	exit $$status

# --- lint: the settings live in pyproject.toml ([tool.ruff]) and .lintr --------------------------
lint: lint-python lint-r

lint-python: install-python
	$(PY) -m ruff check --no-cache .
	$(PY) -m ruff format --no-cache --check .

lint-r: install-r
	Rscript scripts/lint.R

test-python:
	$(PY) -m pytest tests/python -q -p no:cacheprovider -m "not slurm"

# --- a one-node SLURM cluster on localhost, and the tests that need it ------------------------
# the local cluster's config when `make slurm-up` made one, unless SLURM_CONF names another cluster
LOCAL_SLURM_CONF := $(if $(wildcard .slurm/slurm.conf),$(CURDIR)/.slurm/slurm.conf)

slurm-up:
	@scripts/slurm-local.sh up

slurm-down:
	@scripts/slurm-local.sh down

test-slurm: install
	SLURM_CONF=$${SLURM_CONF:-$(LOCAL_SLURM_CONF)} $(PY) -m pytest tests/python -q -p no:cacheprovider -m slurm -s

test-r:
	Rscript -e 'res <- testthat::test_dir("tests/testthat", package = "repalign", load_package = "installed", reporter = "summary", stop_on_failure = TRUE)'

demo: install
	$(VENV)/bin/repalign run analysis/configs/demo.toml

features: install
	$(VENV)/bin/repalign features --config analysis/configs/features.toml

bench: install
	@for f in bench/*.py; do echo "== $$f"; case $$f in bench/study.py) $(PY) $$f --quick ;; *) $(PY) $$f ;; esac || exit 1; done
	@for f in bench/*.R; do echo "== $$f"; Rscript $$f || exit 1; done

# the GPU path (bench/gpu.py): CUDA when present, else the same code on the CPU, saying so
bench-gpu: install
	$(PY) bench/gpu.py

clean:
	rm -rf .stamp-* $(RLIB) out results
