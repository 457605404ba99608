#!/usr/bin/env bash
# The main job: set up, build the index of seeds/ (first time: converts the
# embedding model, ~1-2 min), and serve the chat page on http://127.0.0.1:7860.
# Extra arguments go to `rag chat` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-browser
export HF_HUB_OFFLINE=1
exec .venv/bin/rag chat "$@"
