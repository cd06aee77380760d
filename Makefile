# One command per habit. Each target runs in the active virtual environment;
# `make dev` makes that environment ready (an editable install, so edits to
# .py files need nothing more and edits to .pyx files need `make cython`).
PYTHON ?= python

.PHONY: dev cython test test-py test-one lint fmt typecheck docs debug bench clean

dev:  ## install the package editable with the test and lint tools
	$(PYTHON) -m pip install 'setuptools>=77' Cython
	$(PYTHON) -m pip install --no-build-isolation -e '.[test,lint]'

cython:  ## rebuild the compiled core in place after editing a .pyx/.pxd/.h
	$(PYTHON) setup.py build_ext --inplace

test:  ## the whole suite, both cores (as CI runs it)
	$(PYTHON) -m pytest

test-py:  ## the suite on the pure-Python twins only
	GODISTCACHE_NO_EXTENSIONS=1 $(PYTHON) -m pytest

test-one:  ## one test: make test-one T=tests/test_api.py::test_put_get
	$(PYTHON) -m pytest -p no:cacheprovider $(T)

lint:  ## lint and format check (what CI runs)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

fmt:  ## fix what the linter can and format
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

typecheck:  ## mypy --strict on the package (the README examples are checked by the tests)
	$(PYTHON) -m mypy

docs:  ## the API reference and the pages, into docs/api/
	bash scripts/build-docs.sh

debug:  ## a debug build (-O0 -g3, Cython line tracing), in place
	GODISTCACHE_DEBUG_BUILD=1 $(PYTHON) setup.py build_ext --inplace --force

bench:  ## the main benchmark table
	godistcache bench

clean:
	rm -rf build dist *.egg-info godistcache/*.so godistcache/*/*.so _core/*.c godistcache/*/*.c
