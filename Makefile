# One entry point for a newcomer: `make run` serves the stack on moto, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: run test lint format bench validate build invoke clean

$(BIN)/activate: pyproject.toml layers/shared/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e layers/shared -e ".[dev]"
	touch $(BIN)/activate

run: $(BIN)/activate ## Serve the whole stack locally on moto and print the SCIM URL and a demo token.
	PORT=$(PORT) $(BIN)/python -m provisioning.local

test: $(BIN)/activate lint validate build ## Lint, validate and build the template, then run the whole test suite.
	SCIM_REQUIRE_BUILD=1 $(BIN)/python -m pytest -n 2 --durations=15

lint: $(BIN)/activate ## Lint, format check and strict typing of the shared package.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/activate
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

invoke: $(BIN)/activate ## Run one handler on one event on moto, as `sam local invoke` would: make invoke FN=users EVENT=events/users_get.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function> EVENT=<events/file.json>" >&2; exit 2; }
	$(BIN)/python -m provisioning.local.invoke "$(FN)" "$(EVENT)"

bench: $(BIN)/activate ## Print the benchmark figures quoted in the README (not a test).
	$(BIN)/python -m tests.bench

# The SAM CLI pins versions that would downgrade pydantic and boto3 in .venv: it gets its own venv,
# created on demand and refreshed when these pins change. cfn-lint stays on 1.52, the last line
# that lints SAM templates through aws-sam-translator: from 1.54 it checks SAM resources against
# schemas only and misses, e.g., a `!Ref` to a resource that does not exist.
SAM_VENV := .venv-sam
SAM_BIN := $(SAM_VENV)/bin
SAM_CLI_VERSION := 1.170.0
SAM_CFN_LINT_VERSION := 1.52.1
SAM_STAMP := $(SAM_VENV)/.installed-sam-$(SAM_CLI_VERSION)-cfn-lint-$(SAM_CFN_LINT_VERSION)
SAM_ENV := SAM_CLI_TELEMETRY=0
# Validation needs no AWS account (while no policy names an AWS managed policy by name, which
# the SAM transform would look up in IAM); the region only selects the region data checked.
SAM_REGION ?= us-east-1

$(SAM_STAMP):
	test -d $(SAM_VENV) || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_BIN)/pip install --quiet --upgrade pip
	$(SAM_BIN)/pip install --quiet "aws-sam-cli==$(SAM_CLI_VERSION)" "cfn-lint==$(SAM_CFN_LINT_VERSION)"
	rm -f $(SAM_VENV)/.installed-*
	touch $@

validate: $(SAM_STAMP) ## Check template.yaml: SAM transform, sam validate --lint, cfn-lint.
	$(SAM_ENV) $(SAM_BIN)/sam validate --region $(SAM_REGION) --template-file template.yaml
	$(SAM_ENV) $(SAM_BIN)/sam validate --lint --region $(SAM_REGION) --template-file template.yaml
	$(SAM_BIN)/cfn-lint template.yaml

build: $(SAM_STAMP) ## sam build without containers (layer and functions by their Makefiles) into .aws-sam/build.
	$(SAM_ENV) $(SAM_BIN)/sam build --template-file template.yaml

clean:
	rm -rf $(VENV) .aws-sam
