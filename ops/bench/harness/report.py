"""Output: progress lines as the run goes, the summary, and the JSON object as the last line."""

from __future__ import annotations

import sys
from typing import Any

import orjson


def say(message: str = "") -> None:
    print(message, flush=True)


def emit(result: dict[str, Any]) -> None:
    """The machine-readable summary: exactly one JSON object, the last line of stdout."""
    sys.stdout.flush()
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


def goals(result: dict[str, Any], targets: dict[str, tuple[str, float]]) -> dict[str, bool]:
    """Each goal (key: (">=" or "<=", bound)) met or not; printed as one line."""
    met = {
        key: (result[key] >= bound if op == ">=" else result[key] <= bound)
        for key, (op, bound) in targets.items()
    }
    say(
        "goals: "
        + "; ".join(
            f"{k} {result[k]} {op} {bound}: {'met' if met[k] else 'MISSED'}"
            for k, (op, bound) in targets.items()
        )
    )
    return met
