"""Verification of both audit chains (events and access log), for the API and the CLI."""

from __future__ import annotations

from typing import Any

from api.composition import Services


def verify_all(services: Services) -> dict[str, Any]:
    services.recorder.sequence_pending()
    with services.db.transaction(write=False) as cur:
        events = services.recorder.sequencer.verify(cur)
    access = services.access_log.verify()
    chains = []
    for name, (checked, broken) in (("events", events), ("access_log", access)):
        chains.append(
            {
                "chain": name,
                "checked": checked,
                "ok": broken is None,
                "broken_at": broken.position if broken else None,
                "reason": broken.reason if broken else None,
            }
        )
    return {"ok": all(c["ok"] for c in chains), "chains": chains}
