#!/usr/bin/env bash
# A TURN server for tests and local runs: coturn (Debian package `coturn`, installed with apt-get
# when `turnserver` is missing), on 127.0.0.1 only, with TURN REST credentials
# (`--use-auth-secret`): the backend hands out `expiry:pseudonym` / base64(HMAC-SHA1(secret, ..)).
# No TLS/DTLS, loopback peers allowed (tests relay between local peers). For production, run
# coturn on its own hosts with TLS and give it TELEMED_TURN_SECRET.
#
#   ops/coturn.sh start [--port N|auto] [--secret S] [--pidfile F]
#       prints `turn:127.0.0.1:PORT SECRET` once the server answers a STUN binding request;
#       without --secret a random one is made for this run
#   ops/coturn.sh stop  [--pidfile F]
#   ops/coturn.sh status [--pidfile F]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command=${1:-}
shift || true
port=auto
secret=
pidfile=var/coturn.pid
while (($#)); do
    case $1 in
        --port) port=$2; shift 2 ;;
        --secret) secret=$2; shift 2 ;;
        --pidfile) pidfile=$2; shift 2 ;;
        *) echo "coturn.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

running() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

free_udp_port() {
    python3 - <<'PY'
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", port))  # coturn listens on TCP too
    except OSError:
        continue
    finally:
        t.close()
        u.close()
    print(port)
    break
PY
}

stun_answers() {  # a STUN binding request over UDP gets a binding response
    python3 - "$1" <<'PY'
import os, socket, struct, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
tid = os.urandom(12)
s.sendto(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid, ("127.0.0.1", port))
try:
    data, _ = s.recvfrom(2048)
except OSError:
    sys.exit(1)
sys.exit(0 if data[:2] == b"\x01\x01" and data[8:20] == tid else 1)
PY
}

case $command in
start)
    if running; then
        cat "$pidfile.addr"
        exit 0
    fi
    if ! command -v turnserver >/dev/null 2>&1; then
        echo "coturn.sh: installing the Debian package coturn" >&2
        if [[ $(id -u) == 0 ]]; then
            (apt-get update && apt-get install -y coturn) >&2
        else
            (sudo apt-get update && sudo apt-get install -y coturn) >&2
        fi
    fi
    [[ $port == auto ]] && port=$(free_udp_port)
    [[ -n $secret ]] || secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
    mkdir -p "$(dirname "$pidfile")"
    low=$((40000 + RANDOM % 20000))
    nohup turnserver -n --no-tls --no-dtls --no-cli \
        --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$port" \
        --min-port="$low" --max-port=$((low + 200)) \
        --use-auth-secret --static-auth-secret="$secret" --realm telemed \
        --allow-loopback-peers --fingerprint --no-software-attribute \
        --pidfile="$pidfile.coturn" --log-file="$pidfile.log" --simple-log \
        >"$pidfile.out" 2>&1 &
    echo $! >"$pidfile"
    echo "turn:127.0.0.1:$port $secret" >"$pidfile.addr"
    chmod 600 "$pidfile.addr"
    for _ in $(seq 1 100); do
        if stun_answers "$port"; then
            cat "$pidfile.addr"
            exit 0
        fi
        running || { cat "$pidfile.out" "$pidfile.log" >&2 2>/dev/null || true; exit 1; }
        sleep 0.1
    done
    echo "coturn.sh: the TURN server did not answer on 127.0.0.1:$port" >&2
    exit 1
    ;;
stop)
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile" "$pidfile.addr" "$pidfile.coturn"
    ;;
status)
    if running; then echo "running at $(cut -d' ' -f1 "$pidfile.addr")"; else echo "stopped"; exit 1; fi
    ;;
*)
    echo "usage: ops/coturn.sh start|stop|status [--port N|auto] [--secret S] [--pidfile F]" >&2
    exit 2
    ;;
esac
