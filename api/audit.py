"""Verification of both audit chains (events and access log), for the API and the CLI: each
chain is recomputed and held against its newest signed checkpoint."""

from __future__ import annotations

from typing import Any

from nacl.signing import VerifyKey

from adapters.audit import anchoring
from adapters.composition import Services


def verify_all(services: Services, public_key: VerifyKey | None = None) -> dict[str, Any]:
    """``public_key``: the published key to check checkpoints with (default: this deployment's)."""
    key = public_key or services.checkpoint_key.verify_key
    folder = services.checkpoints.folder
    chains = []
    for chained in (services.recorder, services.access_log):
        verdict = anchoring.verify(services.db, chained, folder, key)
        broken, checkpoint = verdict.broken, verdict.checkpoint
        chains.append(
            {
                "chain": verdict.chain,
                "checked": verdict.checked,
                "ok": broken is None,
                "broken_at": broken.position if broken else None,
                "reason": broken.reason if broken else None,
                "checkpoint_position": checkpoint.position if checkpoint else None,
                "checkpoint_at": checkpoint.at if checkpoint else None,
            }
        )
    return {"ok": all(c["ok"] for c in chains), "chains": chains}
