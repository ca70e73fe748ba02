# Each target builds its own virtualenv from nothing (python3 with venv).
VENV ?= .venv
# The interpreter the virtualenv is made from (`make clean` first to change it).
VENV_PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: test demo unit integration constraints clean

$(STAMP): pyproject.toml constraints.txt
	$(VENV_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test,embedded,fast]'
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

# Every extra, bench's too, in a virtualenv of its own, so that nothing else
# installed by hand lands in the file.
constraints:
	rm -rf $(VENV)-constraints
	$(VENV_PYTHON) -m venv $(VENV)-constraints
	$(VENV)-constraints/bin/python -m pip install -q --upgrade pip
	$(VENV)-constraints/bin/python -m pip install -q -e '.[test,embedded,fast,bench]'
	{ sed -n '/^#/p' constraints.txt; $(VENV)-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(VENV)-constraints

clean:
	rm -rf $(VENV) var .pytest_cache
