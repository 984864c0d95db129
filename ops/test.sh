#!/usr/bin/env bash
# ops/test.sh — the full test suite, as CI runs it (via .ci/run):
#   bootstrap (.venv), test servers (PostgreSQL), ruff check, ruff format --check,
#   mypy, pytest "$@". Every lint step runs even if an earlier one failed; the exit
#   status is non-zero if any step failed (pytest's own code when pytest failed,
#   including 5 = no tests collected; 1 when only lint failed).
# Env read:
#   TELEMED_TEST_SKIP_LINT=1  skip ruff and mypy (quick local runs only; CI never sets it)
#   plus those of ops/bootstrap.sh and ops/postgres.sh (TELEMED_TEST_POSTGRES, ...)
# Env exported to pytest: TELEMED_TEST_POSTGRES (a postgresql:// URL, user postgres),
#   TELEMED_TEST_KAFKA_BOOTSTRAP (host:port), TELEMED_TEST_TURN_URL (turn:127.0.0.1:PORT) and
#   TELEMED_TEST_TURN_SECRET (coturn's static auth secret, random per run).
# shellcheck disable=SC2317  # (functions called only from traps)
set -euo pipefail

ROOT="$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

# shellcheck source=ops/postgres.sh
source ops/postgres.sh

banner() { printf '\n===== %s =====\n' "$*"; }

# ---------------------------------------------------------------------------
# Other test servers (Kafka, S3, ...): start them in start_extra_test_services,
# export their addresses as TELEMED_TEST_*, and stop them in
# stop_extra_test_services (called from the EXIT trap, must be idempotent and
# must not fail). Servers can also be started from pytest fixtures instead.
KAFKA_PIDFILE=var/kafka-test-$$.pid
COTURN_PIDFILE=var/coturn-test-$$.pid
start_extra_test_services() {
    banner "kafka broker (Tansu, 127.0.0.1)"
    if [[ -z ${TELEMED_TEST_KAFKA_BOOTSTRAP:-} ]]; then
        TELEMED_TEST_KAFKA_BOOTSTRAP=$(bash ops/kafka.sh start --port auto --pidfile "$KAFKA_PIDFILE")
        export TELEMED_TEST_KAFKA_BOOTSTRAP
    fi
    echo "Kafka at $TELEMED_TEST_KAFKA_BOOTSTRAP"
    banner "TURN server (coturn, 127.0.0.1)"
    if [[ -z ${TELEMED_TEST_TURN_URL:-} ]]; then
        local turn
        turn=$(bash ops/coturn.sh start --port auto --pidfile "$COTURN_PIDFILE")
        TELEMED_TEST_TURN_URL=${turn% *}
        TELEMED_TEST_TURN_SECRET=${turn#* }
        export TELEMED_TEST_TURN_URL TELEMED_TEST_TURN_SECRET
    fi
    echo "TURN at $TELEMED_TEST_TURN_URL (log: $COTURN_PIDFILE.log)"
}
stop_extra_test_services() {
    bash ops/kafka.sh stop --pidfile "$KAFKA_PIDFILE" || true
    bash ops/coturn.sh stop --pidfile "$COTURN_PIDFILE" || true
}
# ---------------------------------------------------------------------------

# Stop whatever we started, whatever way we exit.
on_exit() {
    local rc=$?
    trap - EXIT INT TERM HUP
    stop_extra_test_services || true
    telemed_pg_cleanup || true
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

banner "bootstrap"
bash ops/bootstrap.sh

banner "test servers"
telemed_pg_ensure
start_extra_test_services

failed=()
pytest_rc=0

# run_step NAME CMD...: banner, run, record a failure; never aborts the script.
run_step() {
    local name=$1 rc=0 start=$SECONDS
    shift
    banner "$name"
    "$@" || rc=$?
    if (( rc != 0 )); then
        failed+=("$name (exit $rc)")
        printf -- '--> %s FAILED (exit %d, %ds)\n' "$name" "$rc" $((SECONDS - start))
    else
        printf -- '--> %s ok (%ds)\n' "$name" $((SECONDS - start))
    fi
    return "$rc"
}

if [[ "${TELEMED_TEST_SKIP_LINT:-0}" == 1 ]]; then
    banner "lint skipped (TELEMED_TEST_SKIP_LINT=1)"
else
    run_step "ruff check" .venv/bin/ruff check . || true
    run_step "ruff format --check" .venv/bin/ruff format --check . || true
    run_step "mypy" .venv/bin/mypy || true
fi

run_step "pytest" .venv/bin/pytest "$@" || pytest_rc=$?
if (( pytest_rc == 5 )); then
    echo "--> pytest collected no tests: counted as a failure"
fi

banner "summary"
if (( ${#failed[@]} == 0 )); then
    echo "all steps passed"
    exit 0
fi
printf 'FAILED: %s\n' "${failed[@]}"
(( pytest_rc != 0 )) && exit "$pytest_rc"
exit 1
