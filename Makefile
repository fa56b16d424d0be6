# One entry point for a newcomer: `make run` serves the stack on moto, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: run test lint format bench validate build clean

$(BIN)/activate: pyproject.toml layers/shared/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e layers/shared -e ".[dev]"
	touch $(BIN)/activate

run: $(BIN)/activate ## Serve the whole stack locally on moto and print the SCIM URL and a demo token.
	PORT=$(PORT) $(BIN)/python -m provisioning.local

test: $(BIN)/activate ## Run the whole test suite.
	$(BIN)/python -m pytest -n 2

lint: $(BIN)/activate ## Lint, format check and strict typing of the shared package.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/activate
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/activate ## Print the benchmark figures quoted in the README (not a test).
	$(BIN)/python -m tests.bench

# The SAM CLI pins versions that would downgrade pydantic and boto3 in .venv: it gets its own venv.
SAM_VENV := .venv-sam
SAM_BIN := $(SAM_VENV)/bin
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_REGION=$${AWS_REGION:-us-east-1}

$(SAM_BIN)/sam:
	test -d $(SAM_VENV) || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_BIN)/pip install --quiet --upgrade pip
	$(SAM_BIN)/pip install --quiet "aws-sam-cli>=1.170" "cfn-lint>=1.58"
	touch $(SAM_BIN)/sam

validate: $(SAM_BIN)/sam ## Validate template.yaml: sam validate --lint, then cfn-lint.
	$(SAM_ENV) $(SAM_BIN)/sam validate --lint --template-file template.yaml
	$(SAM_BIN)/cfn-lint template.yaml

build: $(SAM_BIN)/sam ## sam build without containers (layer and functions by their Makefiles) into .aws-sam/build.
	$(SAM_ENV) $(SAM_BIN)/sam build --template-file template.yaml

clean:
	rm -rf $(VENV) .aws-sam
