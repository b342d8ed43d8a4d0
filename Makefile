# The course's commands. Windows has no make: see README.md for the plain commands behind each.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lab book install lock lint clean help
help:
	@echo "make run    execute every chapter into build/ and print the results table"
	@echo "make test   unit tests, notebook lint, ruff and nbval over every notebook"
	@echo "make lab    JupyterLab on your own working copy of the notebooks (work/)"
	@echo "make book   the course as an offline HTML book: open build/book/index.html"

# Create the virtualenv if missing and install; the exact versions from requirements-lock.txt
# on the platform CI uses (Linux x86-64, Python 3.11), the tested ranges elsewhere.
$(STAMP): requirements.txt requirements-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	if $(BIN)/python -c 'import platform, sys; sys.exit(not (platform.system() == "Linux" and platform.machine() == "x86_64" and sys.version_info[:2] == (3, 11)))'; then \
		$(BIN)/python -m pip install --quiet -r requirements.txt -c requirements-lock.txt; \
	else \
		$(BIN)/python -m pip install --quiet -r requirements.txt; \
	fi
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m course_lib.run $(ARGS)
	$(BIN)/python -m course_lib.book

book: $(STAMP)
	$(BIN)/python -m course_lib.book

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lab: $(STAMP)
	$(BIN)/python -m course_lib.lab

lint: $(STAMP)
	$(BIN)/python -m ruff check .

lock: $(STAMP)
	{ sed -n '1,2p' requirements-lock.txt; $(BIN)/python -m pip freeze --exclude-editable; } > requirements-lock.txt.new
	mv requirements-lock.txt.new requirements-lock.txt

clean:
	rm -rf build
