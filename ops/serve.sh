#!/usr/bin/env bash
# ops/serve.sh — bootstrap .venv, then run the API server from the repo root:
#   ops/serve.sh [telemed serve options...]
set -euo pipefail

ROOT="$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

bash ops/bootstrap.sh
exec .venv/bin/telemed serve "$@"
