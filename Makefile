# Two commands matter: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SBOM_DIR ?= build/sbom
# cyclonedx-py checks its output against the CycloneDX schema (seconds); tests that only
# compare contents turn it off
SBOM_VALIDATE ?= --validate

.PHONY: demo test lint typecheck unit bench schema clean flake-hunt lock sbom audit supply-chain

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@# the kerberos extra builds against MIT krb5 (Debian: libkrb5-dev, gcc; .ci/run installs
	@# them): without it gwctl works and the Kerberos tests skip, saying why
	$(BIN)/pip install --quiet -e '.[test,kerberos]' || \
		echo "note: the kerberos extra could not be built (needs libkrb5-dev and gcc)" >&2
	touch $(STAMP)

test: $(STAMP) lint typecheck supply-chain unit

lint: $(STAMP)
	$(BIN)/ruff check .

# strict, on gwctl/ and tests/ alike (pyproject.toml's [tool.mypy] files): the tests import
# their helpers by bare name, and mypy finds them as pytest does, tests/ having no __init__.py
typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Supply chain (README, "Supply chain"). The lock pins the released dependency set (the
# [project] dependencies, no extras) with hashes, resolved from PyPI itself whatever
# pip's local configuration adds; `make lock` after changing them, and commit the result.
lock: $(STAMP)
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
		$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links --index-url https://pypi.org/simple \
		--output-file requirements.lock pyproject.toml

# the CycloneDX SBOM of the locked set, built (never committed) into build/sbom/;
# requirements mode lists the locked components with their hashes but no dependency graph
sbom: $(STAMP)
	mkdir -p $(SBOM_DIR)
	$(BIN)/python -W ignore::UserWarning -m cyclonedx_py requirements --pyproject pyproject.toml \
		--mc-type application --output-reproducible --of JSON $(SBOM_VALIDATE) \
		-o $(SBOM_DIR)/gwctl.cdx.json requirements.lock
	@echo "sbom: $(SBOM_DIR)/gwctl.cdx.json"

# known vulnerabilities of the locked set; fails when the service cannot be asked
audit: $(STAMP)
	$(BIN)/python .ci/audit.py

supply-chain: sbom audit

demo: $(STAMP)
	$(BIN)/python -m gwctl.demo

# each benchmark prints its figures and PASS/FAIL against its issue's target
bench: $(STAMP)
	$(BIN)/python bench/render_fleet.py
	$(BIN)/python bench/lint_fleet.py
	$(BIN)/python bench/sim_throughput.py
	$(BIN)/python bench/fleet_diff.py
	$(BIN)/python bench/apply_rolling.py
	$(BIN)/python bench/discover.py
	$(BIN)/python bench/ansible_vs_gwctl.py
	$(BIN)/python bench/probe_webrtc.py

# the suite several times in random order under CPU load; lists every test that failed
flake-hunt: $(STAMP)
	$(BIN)/pip install --quiet pytest-randomly
	$(BIN)/python tests/flake_hunt.py --runs $(or $(RUNS),5)

# the published schema is a copy of the packaged one; a test keeps them identical
schema: $(STAMP)
	$(BIN)/gwctl schema > schemas/fleet.schema.json

clean:
	rm -rf out .sim build dist *.egg-info
