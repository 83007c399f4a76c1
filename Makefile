# smsfleet.q317061 developer entry points. `make test` and `make demo` work on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help setup test unit sanity lint ps1 build ee integration demo lab-up lab-down bench bench-remediation bench-smb clean

help:
	@echo "make setup        create .venv (Python >= 3.12) and install pinned tools"
	@echo "make test         every gate: unit tests, sanity, lint, PowerShell checks, build, integration"
	@echo "make demo         emulated fleet: audit, remediate, audit again, show the report"
	@echo "make ee           the execution environment's build context (with EE_TAG and podman: the image)"
	@echo "make bench        benchmarks against the 1,000-host scale fleet (see docs/benchmarks.md)"
	@echo "make bench-remediation  remediation at fleet scale: commands, bytes and ratios (docs/benchmarks.md)"
	@echo "make bench-smb    the smb audit and remediation at fleet scale against WinRM (docs/benchmarks.md)"

setup:
	@tools/setup.sh

test: setup
	@tools/run-gates.sh

unit: setup
	$(BIN)/python -m pytest tests/unit

sanity: setup
	@tools/sanity.sh

lint: setup
	@tools/lint.sh

ps1: setup
	$(BIN)/python -m pytest --no-cov tests/powershell

build: setup
	@tools/build.sh

ee: setup
	@tools/ee-context.sh

integration: setup
	$(BIN)/python -m pytest tests/integration

demo: setup
	@tools/demo.sh

bench: setup
	@bench/run.sh

bench-remediation: setup
	@bench/remediation.sh

bench-smb: setup
	@bench/smb.sh

clean:
	rm -rf tests/output .lab .pytest_cache .coverage
