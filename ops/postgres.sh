#!/usr/bin/env bash
# ops/postgres.sh — a PostgreSQL server for the tests. Source it (ops/test.sh does):
#
#   source ops/postgres.sh
#   trap telemed_pg_cleanup EXIT   # the caller owns the trap
#   telemed_pg_ensure              # exports TELEMED_TEST_POSTGRES
#
# telemed_pg_ensure picks, in order:
#   1. TELEMED_TEST_POSTGRES if already set (used as is);
#   2. a server answering at 127.0.0.1:5432 as user postgres (trust auth), giving
#      TELEMED_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/postgres;
#   3. a throwaway cluster: initdb into var/pg-test-XXXXXX (or /tmp/telemed-pg-test-XXXXXX
#      when that path is unusable), bound to 127.0.0.1 on a free port, unix socket
#      inside the cluster dir; telemed_pg_cleanup stops it and deletes the dir.
# Env read:
#   TELEMED_TEST_POSTGRES             URL to use as is (skips everything else)
#   TELEMED_TEST_FORCE_THROWAWAY_PG   =1 skips the 5432 probe: always a throwaway cluster
#   TELEMED_PG_BINDIR                 directory holding initdb, pg_ctl and postgres
# Missing binaries are installed with apt-get (as root, or with passwordless sudo).
# As root (initdb refuses root) the cluster runs as the 'postgres' system user, or
# as a 'telemedpg' user created for the purpose.

_TELEMED_PG_ROOT="$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
_TELEMED_PG_DIR=""         # throwaway cluster dir, once we started one
_TELEMED_PG_MADE_VAR=""    # 1 if we created var/ (removed again if left empty)
_TELEMED_PG_BINDIR=""      # where initdb/pg_ctl live
_TELEMED_PG_USER=""        # user that runs initdb/pg_ctl ('' = ourselves)

_tpg_log() { printf '[postgres] %s\n' "$*" >&2; }
_tpg_fail() { _tpg_log "ERROR: $*"; return 1; }

_tpg_python() { # a python for small helpers
    if [[ -x "$_TELEMED_PG_ROOT/.venv/bin/python" ]]; then
        echo "$_TELEMED_PG_ROOT/.venv/bin/python"
    else
        command -v python3 || command -v python
    fi
}

# Run a command as $_TELEMED_PG_USER (or as ourselves), from / so that cwd access
# is never a problem. Arguments must be absolute paths.
_tpg_as_user() {
    if [[ -z "$_TELEMED_PG_USER" ]]; then
        (cd / && "$@")
    elif command -v runuser >/dev/null 2>&1; then
        (cd / && runuser -u "$_TELEMED_PG_USER" -- "$@")
    else
        (cd / && su -s /bin/bash "$_TELEMED_PG_USER" -c "$(printf '%q ' "$@")")
    fi
}

# True if we can connect to host:port as user postgres, database postgres.
_tpg_probe() {
    local host=$1 port=$2 py
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$host" -p "$port" -U postgres -d postgres -t 3 </dev/null >/dev/null 2>&1 || return 1
    fi
    # pg_isready does not check authentication: do a real login when we can.
    if command -v psql >/dev/null 2>&1; then
        PGCONNECT_TIMEOUT=5 psql -X -w -q -h "$host" -p "$port" -U postgres -d postgres \
            -Atc 'select 1' </dev/null >/dev/null 2>&1
        return
    fi
    py=$(_tpg_python) || py=""
    if [[ -n "$py" ]] && "$py" -c 'import psycopg' >/dev/null 2>&1; then
        "$py" - "$host" "$port" >/dev/null 2>&1 <<'PY'
import sys, psycopg
psycopg.connect(host=sys.argv[1], port=int(sys.argv[2]), user="postgres",
                dbname="postgres", connect_timeout=5).close()
PY
        return
    fi
    command -v pg_isready >/dev/null 2>&1 && return 0
    [[ -n "$py" ]] || return 1
    "$py" -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3).close()' \
        "$host" "$port" >/dev/null 2>&1
}

# Echo the first directory holding initdb + pg_ctl + postgres.
_tpg_find_bindir() {
    local d p
    _tpg_has_bins() { [[ -x "$1/initdb" && -x "$1/pg_ctl" && -x "$1/postgres" ]]; }
    if [[ -n "${TELEMED_PG_BINDIR:-}" ]]; then
        _tpg_has_bins "$TELEMED_PG_BINDIR" && { echo "$TELEMED_PG_BINDIR"; return 0; }
        _tpg_fail "TELEMED_PG_BINDIR=$TELEMED_PG_BINDIR lacks initdb/pg_ctl/postgres"
        return 1
    fi
    if p=$(command -v initdb 2>/dev/null); then
        d=$(dirname -- "$(readlink -f -- "$p")")
        _tpg_has_bins "$d" && { echo "$d"; return 0; }
    fi
    while IFS= read -r d; do
        _tpg_has_bins "$d" && { echo "$d"; return 0; }
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
    return 1
}

_tpg_install() {
    local -a sudo=()
    command -v apt-get >/dev/null 2>&1 ||
        { _tpg_fail "no PostgreSQL server binaries (initdb, pg_ctl) found and no apt-get to install them; install PostgreSQL, or set TELEMED_PG_BINDIR or TELEMED_TEST_POSTGRES"; return 1; }
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            _tpg_fail "no PostgreSQL server binaries found; not root and no passwordless sudo to 'apt-get install postgresql'; install it, or set TELEMED_PG_BINDIR or TELEMED_TEST_POSTGRES"
            return 1
        fi
    fi
    _tpg_log "installing PostgreSQL with apt-get"
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null ||
        ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql </dev/null; then
        _tpg_fail "apt-get install postgresql failed"
        return 1
    fi
}

# As root, pick (or create) the unprivileged user that runs the cluster.
_tpg_pick_user() {
    _TELEMED_PG_USER=""
    [[ $(id -u) -eq 0 ]] || return 0
    if id -u postgres >/dev/null 2>&1; then
        _TELEMED_PG_USER=postgres
    else
        if ! id -u telemedpg >/dev/null 2>&1; then
            command -v useradd >/dev/null 2>&1 || { _tpg_fail "running as root, no 'postgres' user and no useradd"; return 1; }
            useradd --system --user-group --no-create-home --shell /usr/sbin/nologin telemedpg ||
                { _tpg_fail "useradd telemedpg failed"; return 1; }
        fi
        _TELEMED_PG_USER=telemedpg
    fi
}

# "PID STARTTIME" of a process (STARTTIME from /proc, so a reused PID is told apart).
_tpg_proc_id() {
    local stat f
    if stat=$(cat "/proc/$1/stat" 2>/dev/null); then
        stat=${stat##*) }                        # fields after "(comm)": state is field 3
        read -r -a f <<<"$stat"
        [[ "${f[0]}" != Z ]] || return 1         # a zombie is dead
        echo "$1 ${f[19]}"                       # field 22: start time
    elif [[ ! -d /proc/self ]] && kill -0 "$1" 2>/dev/null; then
        echo "$1"
    else
        return 1
    fi
}

# Remove throwaway clusters left by runs that were killed before their cleanup.
_tpg_sweep_stale() {
    local d owner
    for d in "$_TELEMED_PG_ROOT"/var/pg-test-* /tmp/telemed-pg-test-*; do
        [[ -d "$d" ]] || continue
        if [[ -f "$d/owner" ]]; then
            owner=$(<"$d/owner")
            [[ -n "$owner" && "$(_tpg_proc_id "${owner%% *}")" == "$owner" ]] && continue
        else
            # owner not recorded yet: only stale if old
            [[ -n "$(find "$d" -maxdepth 0 -mmin +10 2>/dev/null)" ]] || continue
        fi
        _tpg_log "removing stale cluster $d"
        if [[ -f "$d/data/postmaster.pid" ]]; then
            _tpg_as_user "$_TELEMED_PG_BINDIR/pg_ctl" -D "$d/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        fi
        rm -rf -- "$d" || true
    done
}

_tpg_free_port() {
    "$(_tpg_python)" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_tpg_start_throwaway() {
    local bindir dir port attempt conf
    bindir=$(_tpg_find_bindir) || {
        [[ -z "${TELEMED_PG_BINDIR:-}" ]] || return 1
        _tpg_install || return 1
        bindir=$(_tpg_find_bindir) || { _tpg_fail "PostgreSQL installed but initdb/pg_ctl still not found"; return 1; }
    }
    _TELEMED_PG_BINDIR=$bindir
    _tpg_pick_user || return 1
    _tpg_sweep_stale

    # The cluster dir: under var/ in the repo, unless the socket path would be too
    # long (sun_path holds ~107 bytes) or the cluster user cannot reach it.
    if [[ ! -d "$_TELEMED_PG_ROOT/var" ]]; then
        mkdir -p "$_TELEMED_PG_ROOT/var" && _TELEMED_PG_MADE_VAR=1
    fi
    dir=$(mktemp -d "$_TELEMED_PG_ROOT/var/pg-test-XXXXXX") || { _tpg_fail "mktemp failed"; return 1; }
    _TELEMED_PG_DIR=$dir
    _tpg_proc_id $$ >"$dir/owner"
    [[ -z "$_TELEMED_PG_USER" ]] || chown "$_TELEMED_PG_USER:" "$dir"
    if (( ${#dir} > 90 )) || ! _tpg_as_user test -w "$dir" -a -x "$dir"; then
        rm -rf -- "$dir"
        dir=$(mktemp -d /tmp/telemed-pg-test-XXXXXX) || { _tpg_fail "mktemp failed"; return 1; }
        _TELEMED_PG_DIR=$dir
        _tpg_proc_id $$ >"$dir/owner"
        [[ -z "$_TELEMED_PG_USER" ]] || chown "$_TELEMED_PG_USER:" "$dir"
    fi
    chmod 700 "$dir"
    _tpg_log "throwaway cluster in $dir (${bindir}${_TELEMED_PG_USER:+, as user $_TELEMED_PG_USER})"

    _tpg_as_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; _tpg_fail "initdb failed"; return 1; }

    # Loopback only, socket inside the cluster dir, durability off (test data).
    conf=${dir//\'/\'\'}
    cat >>"$dir/data/postgresql.conf" <<CONF

# --- ops/postgres.sh: throwaway test cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$conf'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF

    # A free port can be taken between picking and binding: retry a few times.
    for attempt in 1 2 3 4 5; do
        port=$(_tpg_free_port) || { _tpg_fail "could not pick a free port"; return 1; }
        if _tpg_as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "-p $port" -w -t 60 start \
            >/dev/null 2>&1; then
            break
        fi
        _tpg_log "start on port $port failed (attempt $attempt):"
        tail -n 5 "$dir/postgres.log" >&2 2>/dev/null || true
        _tpg_as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
        port=""
    done
    [[ -n "$port" ]] || { _tpg_fail "could not start the throwaway cluster (log: $dir/postgres.log)"; return 1; }

    for attempt in $(seq 1 60); do
        _tpg_probe 127.0.0.1 "$port" && break
        (( attempt < 60 )) || { _tpg_fail "cluster on port $port never became ready"; return 1; }
        sleep 0.5
    done
    export TELEMED_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/postgres"
    _tpg_log "started: TELEMED_TEST_POSTGRES=$TELEMED_TEST_POSTGRES"
}

telemed_pg_ensure() {
    if [[ -n "${TELEMED_TEST_POSTGRES:-}" ]]; then
        export TELEMED_TEST_POSTGRES
        _tpg_log "using TELEMED_TEST_POSTGRES from the environment"
        return 0
    fi
    if [[ "${TELEMED_TEST_FORCE_THROWAWAY_PG:-0}" != 1 ]] && _tpg_probe 127.0.0.1 5432; then
        export TELEMED_TEST_POSTGRES="postgresql://postgres@127.0.0.1:5432/postgres"
        _tpg_log "using the server at 127.0.0.1:5432: TELEMED_TEST_POSTGRES=$TELEMED_TEST_POSTGRES"
        return 0
    fi
    _tpg_start_throwaway
}

# Stop and delete the throwaway cluster, if any. Safe to call more than once.
telemed_pg_cleanup() {
    local dir=$_TELEMED_PG_DIR
    [[ -n "$dir" ]] || return 0
    _TELEMED_PG_DIR=""
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        _tpg_log "stopping the throwaway cluster"
        _tpg_as_user "$_TELEMED_PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            _tpg_as_user "$_TELEMED_PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
            _tpg_log "WARNING: pg_ctl stop failed (log: $dir/postgres.log)"
    fi
    rm -rf -- "$dir" || true
    if [[ -n "$_TELEMED_PG_MADE_VAR" ]]; then
        rmdir -- "$_TELEMED_PG_ROOT/var" 2>/dev/null || true
    fi
    return 0
}
