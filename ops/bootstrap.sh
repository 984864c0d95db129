#!/usr/bin/env bash
# ops/bootstrap.sh — make sure the repo's .venv exists (Python >= 3.11) and holds
# the project installed editable with its test extra: pip install -e '.[test]'.
#
# Execute it (bash ops/bootstrap.sh) or source it from another bash script; either
# way it works from any current directory. Sourcing runs the same steps in a
# subshell (the caller's options and cwd are left alone) and exports TELEMED_ROOT.
#
# The install is skipped while .venv/.installed-<sha256 of pyproject.toml> exists.
# Env read:
#   TELEMED_PYTHON         interpreter to build the venv with (default: search
#                          python3.11, python3.12, python3.13, python3.14, python3, python)
#   TELEMED_FORCE_INSTALL  =1 reinstalls even if the stamp is present

_telemed_bootstrap() (
    set -euo pipefail
    cd "$1"

    log() { printf '[bootstrap] %s\n' "$*" >&2; }
    die() { log "ERROR: $*"; exit 1; }
    py_ok() { # true if "$1" runs and is Python >= 3.11
        "$1" -c 'import sys; raise SystemExit(0 if sys.version_info >= (3, 11) else 1)' \
            >/dev/null 2>&1 </dev/null
    }

    [[ -f pyproject.toml ]] || die "no pyproject.toml in $PWD"

    # 1. A usable .venv: reuse it when its python still works and is >= 3.11.
    if [[ -e .venv ]] && ! py_ok .venv/bin/python; then
        log ".venv is broken or too old: recreating it"
        rm -rf .venv
    fi
    if [[ ! -e .venv ]]; then
        local py="" cand
        if [[ -n "${TELEMED_PYTHON:-}" ]]; then
            py_ok "$TELEMED_PYTHON" || die "TELEMED_PYTHON=$TELEMED_PYTHON is not a working Python >= 3.11"
            py=$TELEMED_PYTHON
        else
            for cand in python3.11 python3.12 python3.13 python3.14 python3 python; do
                if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then
                    py=$cand
                    break
                fi
            done
        fi
        [[ -n "$py" ]] || die "no Python >= 3.11 found (tried python3.11..python3.14, python3, python); install one or set TELEMED_PYTHON"
        log "creating .venv with $(command -v "$py") ($("$py" -c 'import platform; print(platform.python_version())'))"
        if ! "$py" -m venv .venv; then
            rm -rf .venv
            die "'$py -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
        fi
    fi

    # 2. Install, unless this exact pyproject.toml was already installed into this venv.
    local hash stamp
    if command -v sha256sum >/dev/null 2>&1; then
        hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
    else
        hash=$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' pyproject.toml)
    fi
    stamp=".venv/.installed-$hash"
    if [[ -f "$stamp" && "${TELEMED_FORCE_INSTALL:-0}" != 1 ]]; then
        log "up to date (${stamp})"
        exit 0
    fi

    log "upgrading pip"
    .venv/bin/python -m pip install --quiet --upgrade pip
    log "installing the project: pip install -e '.[test]'"
    .venv/bin/python -m pip install --progress-bar off -e '.[test]'
    rm -f .venv/.installed-*
    : >"$stamp"
    log "installed (${stamp})"
)

TELEMED_ROOT="$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
export TELEMED_ROOT

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    _telemed_bootstrap "$TELEMED_ROOT"
else
    _telemed_bootstrap "$TELEMED_ROOT" || return $?
fi
