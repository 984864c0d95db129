"""The real app (``create_app``) served by uvicorn in a subprocess on 127.0.0.1.

The subprocess builds its own composition on the benchmark's database and keyring, projections
in process as ``telemed serve`` runs them, and may include one extra ``APIRouter`` of the
benchmark's own (``--router module:attribute``, a module next to the benchmark scripts).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

BENCH = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServedApp:
    """``with ServedApp(url, keyring) as app: httpx.Client(base_url=app.base_url)``."""

    def __init__(
        self, url: str, keyring: Path, *, router: str | None = None, pool_size: int = 24
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, __file__, url, str(keyring), str(self.port), str(pool_size)]
        # stdout stays ours: the summary and the JSON line
        self.proc = subprocess.Popen(command + ([router] if router else []), stdout=sys.stderr)

    def __enter__(self) -> ServedApp:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the API process exited (code {self.proc.returncode})")
                try:
                    if client.get("/v1/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the API did not answer within {timeout:.0f}s")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def serve() -> int:
    """The subprocess: ``server.py URL KEYRING PORT POOL [module:router]``."""
    parser = argparse.ArgumentParser()
    for name in ("url", "keyring", "port", "pool"):
        parser.add_argument(name)
    parser.add_argument("router", nargs="?")
    args = parser.parse_args()
    sys.path[0] = str(BENCH)  # not this script's folder: its modules must not shadow others
    import uvicorn

    import harness  # noqa: F401  (puts the repository on sys.path)
    from adapters.composition import build
    from adapters.settings import Settings
    from api.app import create_app

    settings = Settings(
        database_url=args.url,
        keyring_path=Path(args.keyring),
        projections="inprocess",
        pool_size=int(args.pool),
    )
    services = build(settings)
    try:
        app = create_app(services)
        if args.router:
            module, attribute = args.router.split(":")
            app.include_router(getattr(importlib.import_module(module), attribute))
        uvicorn.run(
            app, host="127.0.0.1", port=int(args.port), access_log=False, log_level="warning"
        )
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())
