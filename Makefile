# repalign — one-command set-up and tests.
#   make install   idempotent: R + R packages (apt on Debian/Ubuntu, else CRAN), .venv, the R package
#   make test      install (+ headless chromium for the report test), then pytest and testthat; fails if either fails
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
  r-cran-roxygen2
CRAN_R_PACKAGES := lme4 brms rstan tidyverse broom.mixed testthat reticulate jsonlite optparse rmarkdown roxygen2
R_SOURCES := DESCRIPTION NAMESPACE $(wildcard R/*.R)

.PHONY: help install install-r install-python install-rpkg install-browser test test-python test-r test-slurm slurm-up slurm-down demo features bench clean

help:
	@echo "make install | test | demo | features | bench | slurm-up | test-slurm | slurm-down | clean"

install: install-r install-python install-rpkg

# --- R and its packages --------------------------------------------------------------------
install-r: .stamp-r
.stamp-r: Makefile
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
	elif command -v Rscript >/dev/null 2>&1; then \
	  Rscript -e 'p <- c($(foreach p,$(CRAN_R_PACKAGES),"$(p)",)NULL); p <- p[!vapply(p, requireNamespace, TRUE, quietly = TRUE)]; if (length(p)) install.packages(p, repos = "https://cloud.r-project.org")'; \
	else echo "R not found and no apt-get: install R >= 4.2 first" >&2; exit 1; fi
	@Rscript -e 'stopifnot(requireNamespace("lme4"), requireNamespace("brms"), requireNamespace("testthat"))'
	@touch $@

# --- Python ----------------------------------------------------------------------------------
install-python: .stamp-venv
.stamp-venv: pyproject.toml .stamp-r
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test]'
	@# rpy2 3.6 needs R >= 4.3: pin the last compatible series for older R.
	@if Rscript -e 'quit(status = getRversion() < "4.3")' >/dev/null 2>&1; then \
	  $(PY) -m pip install -q 'rpy2>=3.5'; else $(PY) -m pip install -q 'rpy2>=3.5,<3.6'; fi
	@touch $@

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
	$(MAKE) --no-print-directory test-python || status=1; \
	$(MAKE) --no-print-directory test-r || status=1; \
	exit $$status

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
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
	@for f in bench/*.R; do echo "== $$f"; Rscript $$f || exit 1; done

clean:
	rm -rf .stamp-* $(RLIB) out results
