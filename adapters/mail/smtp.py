"""Delivery over SMTP (``TELEMED_MAIL=smtp``): production, through the organisation's relay."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass
class SmtpRelay:
    host: str
    port: int
    timeout: float = 10.0

    def send(self, message: EmailMessage) -> None:
        """Hand the message to the relay; raises ``OSError`` or ``SMTPException`` when it is
        not accepted (the outbox then retries with back-off)."""
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)

    def __str__(self) -> str:
        return f"SMTP relay {self.host}:{self.port}"
