# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export TEST_POSTGRES_URL

.PHONY: help run test lint unit bench clean

help:
	@echo "make run    set up and run the bot (SQLite under var/; the console when no chat is set up)"
	@echo "make test   set up, lint, type-check, and run every test on SQLite and PostgreSQL"
	@echo "make bench  run the benchmarks (about 15 minutes; prints figures)"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

$(BIN)/juneplum: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

run: $(BIN)/juneplum
	$(BIN)/juneplum migrate
	$(BIN)/juneplum demo
	$(BIN)/juneplum serve --console-without-chat

lint: $(BIN)/juneplum
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(BIN)/juneplum
	$(BIN)/python -m bench.intake_and_queries
	$(BIN)/python -m bench.mail_delivery
	$(BIN)/python -m bench.chat_delivery
	$(BIN)/python -m bench.slack_acks
	$(BIN)/python -m bench.telegram_callbacks
	$(BIN)/python -m bench.digest_planning
	$(BIN)/python -m bench.calendar_feed

clean:
	rm -rf $(VENV) .tools .mypy_cache .pytest_cache .ruff_cache
