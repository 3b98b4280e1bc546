# Two commands do everything on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export AWS_DEFAULT_REGION ?= eu-central-1

.PHONY: check-java setup run test lint typecheck template-lint browser unit integration e2e bench fuzz checkov package layer clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed for DynamoDB Local (Debian: apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

check-java:
	@command -v java >/dev/null || { echo "Java 17+ is needed for DynamoDB Local (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }

setup: $(BIN)/.installed node_modules/.installed check-java

run: setup
	PORT=$(PORT) $(BIN)/cashline run --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# cfn-lint on what would be deployed: the template merged with Chalice's functions.
template-lint: setup
	rm -rf build/package
	cd functions && ../$(BIN)/chalice package --stage prod --merge-template ../template.yaml ../build/package >/dev/null
	$(BIN)/cfn-lint build/package/sam.yaml

# checkov pins many packages (boto3, pydantic, ...) that would clash with ours: it gets a virtualenv
# of its own, made once per version like the main one.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .tools/checkov
$(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

# checkov on what would be deployed (written by template-lint); justified skips in .checkov.yaml.
# BC_SKIP_MAPPING: no download of Prisma Cloud's guideline mappings (works offline).
checkov: template-lint $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --file build/package/sam.yaml

# The dashboard's browser test drives Debian's chromium through chromedriver: as root, apt-get
# installs them when missing; otherwise this says how (the test skips without them, fails under CI).
browser: setup
	$(BIN)/python -m localcloud.browser

test: lint typecheck template-lint checkov browser
	$(BIN)/pytest -q

bench: setup
	POWERTOOLS_LOG_LEVEL=WARNING $(BIN)/python -m bench

# The long schemathesis run (make test runs a short one): figures in bench/results/fuzz.md.
# FUZZ_EXAMPLES cases per operation and mode; FUZZ_ONLY narrows to operations containing that text.
FUZZ_EXAMPLES ?= 100
fuzz: setup
	POWERTOOLS_LOG_LEVEL=ERROR $(BIN)/python -m bench.fuzz --examples $(FUZZ_EXAMPLES) --only "$(FUZZ_ONLY)"

# The deployable stack: the layer (shared/ + runtime deps for Lambda) and the merged template.
layer: setup
	bash layers/build.sh

package: layer template-lint
	@echo "deployable stack in build/package/ (sam.yaml + deployment.zip; layer in layers/build/)"

clean:
	rm -rf build layers/build .local .pytest_cache .mypy_cache .ruff_cache
