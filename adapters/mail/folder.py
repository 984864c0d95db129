"""Delivery into a folder (``TELEMED_MAIL=file``, the embedded default): one ``.eml`` file per
message, readable with any mail program or text editor. For development and trials only: the
messages carry sign-in links in clear, so production sends over SMTP instead.

A message's file is named after its outbox key, so a re-send after a crash rewrites the same
file rather than adding a second one; it appears whole or not at all (written aside, then
renamed)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


@dataclass
class MailFolder:
    path: Path

    def send(self, message: EmailMessage) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = str(message["Message-ID"]).strip("<>").split("@", 1)[0]
        name = re.sub(r"[^A-Za-z0-9._-]", "_", key) or "message"
        target = self.path / f"{name}.eml"
        aside = target.with_suffix(".eml.part")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(message))
            out.flush()
            os.fsync(out.fileno())
        os.replace(aside, target)

    def __str__(self) -> str:
        return f"mail folder {self.path.resolve()} (not for production: TELEMED_MAIL=smtp)"
