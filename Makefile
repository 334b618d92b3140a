# Two front doors: `make run` and `make test`. Both set up .venv and the catalogs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PO     := $(wildcard locales/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)

.PHONY: run test setup catalogs extract update-catalogs lint bench clean

run: setup
	$(BIN)/python -m bot run

test: setup
	$(BIN)/python -m pytest

setup: $(STAMP) catalogs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

catalogs: $(MO)

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -D messages -i $< -o $@

# Pull every _() / N_() / ngettext() msgid out of the code, then merge into each catalog.
extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 --no-location --sort-output \
	  -o locales/messages.pot conversations bot

update-catalogs: extract
	$(BIN)/pybabel update -D messages -i locales/messages.pot -d locales --no-fuzzy-matching
	$(BIN)/python scripts/fill_english_catalog.py locales/en/LC_MESSAGES/messages.po

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(MO)
