# Each target builds its own virtualenv from nothing (python3 with venv).
VENV ?= .venv
# The interpreter the virtualenv is made from (`make clean` first to change it).
VENV_PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: test demo unit integration clean

$(STAMP): pyproject.toml
	$(VENV_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,embedded,fast]'
	rm -f $(VENV)/.installed-*
	touch $@

test: $(STAMP)
	sh scripts/install-test-deps.sh
	$(PY) -m pytest -q

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	sh scripts/install-test-deps.sh
	$(PY) -m pytest -q tests/integration

demo: $(STAMP)
	$(VENV)/bin/seller-standards demo

clean:
	rm -rf $(VENV) var .pytest_cache
