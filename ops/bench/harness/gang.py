"""Worker processes that run the same timed slot at the same time (``WorkerGang``).

They are spawned (a fresh interpreter each, never a fork of a process holding threads or open
connections), so each builds its own connections; ``target(conn, barrier, *args[i])`` runs in
worker ``i``, sets itself up and calls ``serve(conn, barrier, handler)``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier as ProcessBarrier
from typing import Any

#: what a worker does with one request: ``handle(message, gate)``; ``gate`` waits at the
#: barrier shared by all workers of the gang (pass it on to ``run_threads``)
Handler = Callable[[Any, Callable[[], object]], Any]


class WorkerGang:
    """Worker processes that each serve requests, all of them the same one at the same time.

    ``target(conn, barrier, *args[i])`` runs in worker ``i`` (a module-level function, as it is
    pickled by name); it sets itself up and then calls ``serve(conn, barrier, handler)``.
    ``request(message)`` sends a message to every worker and returns their replies in order;
    a worker's failure raises ``RuntimeError`` here (after all replies are in).
    """

    def __init__(
        self,
        target: Callable[..., None],
        args: Sequence[tuple[Any, ...]],
        *,
        barrier_timeout: float = 60.0,
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier: ProcessBarrier = ctx.Barrier(len(args), timeout=barrier_timeout)
        self._conns: list[Connection] = []
        self._procs: list[BaseProcess] = []
        self._ready = False
        try:
            for index, extra in enumerate(args):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(
                    target=target,
                    args=(theirs, self.barrier, *extra),
                    name=f"bench-worker-{index}",
                    daemon=True,
                )
                proc.start()
                theirs.close()
                self._conns.append(ours)
                self._procs.append(proc)
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._procs)

    def wait_ready(self, timeout: float = 120.0) -> None:
        if not self._ready:
            self._gather(timeout)
            self._ready = True

    def request(self, message: Any, timeout: float = 300.0) -> list[Any]:
        self.wait_ready()
        for conn in self._conns:
            conn.send(message)
        return self._gather(timeout)

    def _gather(self, timeout: float) -> list[Any]:
        deadline = time.monotonic() + timeout
        replies: list[Any] = []
        failures: list[str] = []
        for conn, proc in zip(self._conns, self._procs, strict=True):
            while not conn.poll(0.2):
                if not proc.is_alive():
                    raise RuntimeError(f"{proc.name} exited (code {proc.exitcode})")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{proc.name} did not reply within {timeout:.0f}s")
            try:
                kind, payload = conn.recv()
            except EOFError:
                raise RuntimeError(f"{proc.name} exited (code {proc.exitcode})") from None
            if kind == "error":
                failures.append(f"{proc.name}: {payload}")
            else:
                replies.append(payload)
        if failures:
            raise RuntimeError("worker process failed:\n" + "\n".join(failures))
        return replies

    def close(self, timeout: float = 20.0) -> None:
        """Ask the workers to finish (they close their connections), then reap them."""
        for conn in self._conns:
            with contextlib.suppress(OSError, ValueError):
                conn.send(None)
        deadline = time.monotonic() + timeout
        for proc in self._procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []


def serve(conn: Connection, barrier: ProcessBarrier, handle: Handler) -> None:
    """The worker side of ``WorkerGang``: reply ready, then handle requests until ``None``.

    A failed request breaks the barrier, so that the other workers do not wait for this one.
    """
    conn.send(("ok", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            reply = handle(message, barrier.wait)
        except Exception:
            barrier.abort()
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("ok", reply))
