#!/usr/bin/env bash
# All checks, as CI runs them: set up (with the local LLM and Chromium),
# then lint, type-check, and run every test tier (unit, integration,
# browser, llm). Extra arguments go to pytest (e.g. -m unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --llm
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
echo "== ruff"; .venv/bin/ruff check rag ui tests bench
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
