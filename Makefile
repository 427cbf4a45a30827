# The two commands of the README:
#   make run    set up (virtual environment, packages, offline model, index) and start the app
#   make test   set up (the same, plus the browser-test packages), lint (ruff) and run the whole test suite
# Everything else here is a step of those two.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint setup browser-deps index clean

run: setup
	$(PY) app.py $(ARGS)

test: setup browser-deps lint
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff with the rules in pyproject.toml (pyflakes, bugbear, complexity <= 15).
lint: setup
	$(PY) -m ruff check assistant tests scripts app.py

setup: $(STAMP)

# torch is pinned and installed first: an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Headless Chromium and a CJK font for the browser test (Debian packages; no browser download).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi 'noto.*cjk'; then \
		echo "installing chromium and CJK/emoji fonts (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	fi

index: setup
	$(PY) -m assistant.app.cli index build

clean:
	rm -rf $(VENV) index/build-* index/CURRENT
