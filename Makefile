# Two commands: `make run` (set up + open the app) and `make test` (set up + lint + run all tests).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: run test lint setup fashion-data browser bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml | $(PY)
	$(PIP) install --quiet --upgrade pip "setuptools>=77"
	$(PIP) install --quiet -r requirements-dev.txt
	$(PIP) install --quiet --no-build-isolation -e ".[dev]" -c requirements.txt
	touch $(STAMP)

setup: $(STAMP) fashion-data

# The full Fashion-MNIST (Debian's dataset-fashion-mnist) where apt is available; without it featent
# uses the subset shipped inside the package, so a failure here is not fatal.
fashion-data:
	@[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || ! command -v apt-get >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then { apt-get update -qq; apt-get install -y -qq dataset-fashion-mnist; } >/dev/null 2>&1; \
	  else { sudo -n apt-get update -qq; sudo -n apt-get install -y -qq dataset-fashion-mnist; } >/dev/null 2>&1; fi; } \
	  || echo "featent: dataset-fashion-mnist not installed; using the Fashion-MNIST subset shipped with featent"

# Debian's chromium for the end-to-end browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

run: setup
	@echo "featent: open http://localhost:$(PORT) in your browser (Ctrl+C stops the server)"
	FEATENT_APP_SCRIPT=app.py $(PY) -m streamlit run featent/app/serve.py --server.port $(PORT) --server.headless true --server.fileWatcherType none --browser.gatherUsageStats false

# ruff (rules in pyproject.toml) and mypy on the package; make test runs it before the tests.
lint: $(STAMP)
	$(PY) -m ruff check featent tests bench app.py pages
	$(PY) -m mypy featent

# Three jobs run side by side: the lint, the browser, package and notebook tests (mostly waiting: on the
# app's server, on pip unpacking torch into a fresh venv, on notebook kernels), and the rest; the lint's
# and the side group's output follow, and any of them failing fails make test. Plain `pytest` runs every
# test in one go.
test: setup browser
	@mkdir -p build; $(PY) -m pytest -q -m "e2e or package or side" -p no:cacheprovider \
	  > build/side-tests.log 2>&1 & side=$$!; \
	$(MAKE) --no-print-directory lint > build/lint.log 2>&1 & lint=$$!; \
	$(PY) -m pytest -m "not e2e and not package and not side"; main=$$?; \
	wait $$lint; lintstatus=$$?; echo "--- lint (ruff, mypy) ---"; cat build/lint.log; \
	wait $$side; sidestatus=$$?; echo "--- browser, package and notebook tests (tests/e2e, tests/test_package.py, tests/test_tutorials.py) ---"; \
	cat build/side-tests.log; [ $$main -eq 0 ] && [ $$lintstatus -eq 0 ] && [ $$sidestatus -eq 0 ]

bench: setup
	$(PY) bench/birth_time.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .mypy_cache
