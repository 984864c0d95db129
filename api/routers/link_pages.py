"""The pages behind the links the service mails: a password reset, a staff invitation and a
record invitation (A1) or transfer (A4). Each is a small form that posts to the API route a
client would call; the token stays in the link's fragment, so it never reaches a server log.
Not part of the API (absent from the OpenAPI document)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_SCRIPT = """
const token = new URLSearchParams(location.hash.slice(1)).get("token");
history.replaceState(null, "", location.pathname);
const result = document.getElementById("result");
for (const form of document.querySelectorAll("form")) {
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    if (!token) {
      result.textContent = "This address has no token: open the link from the message again.";
      return;
    }
    const body = {token};
    for (const [name, value] of new FormData(form)) if (value) body[name] = value;
    if ("repeat" in body && body.repeat !== body.password) {
      result.textContent = "The two passwords differ.";
      return;
    }
    delete body.repeat;
    const answer = await fetch(form.dataset.endpoint, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    });
    if (answer.ok) {
      document.querySelectorAll("form").forEach((f) => { f.hidden = true; });
      result.textContent = form.dataset.done;
    } else {
      const problem = await answer.json().catch(() => ({}));
      result.textContent = problem.detail || problem.title || `Refused (${answer.status}).`;
    }
  });
}
"""
_STYLE = "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
_STYLE += "label{display:block;margin:.8rem 0}input{display:block;width:100%}"


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'sha256-{_digest(_SCRIPT)}'; "
        f"style-src 'sha256-{_digest(_STYLE)}'; connect-src 'self'; form-action 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_PASSWORD = (
    '<label>Password (10 characters or more) <input name="password" type="password" '
    'autocomplete="new-password" minlength="10" required></label>'
    '<label>Password again <input name="repeat" type="password" autocomplete="new-password" '
    'minlength="10" required></label>'
)


@dataclass(frozen=True)
class Form:
    endpoint: str
    fields: str
    button: str
    done: str

    def html(self) -> str:
        return (
            f'<form data-endpoint="{escape(self.endpoint)}" data-done="{escape(self.done)}">'
            f'{self.fields}<button type="submit">{escape(self.button)}</button></form>'
        )


def _page(title: str, intro: str, *forms: Form) -> HTMLResponse:
    body = "".join(form.html() for form in forms)
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Telemed</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(intro)}</p>{body}"
        f'<p id="result" role="status"></p><script>{_SCRIPT}</script></body></html>'
    )
    return HTMLResponse(html, headers=_HEADERS)


@router.get("/reset-password")
def reset_password() -> HTMLResponse:
    return _page(
        "Choose a new password",
        "Every session of your account will be signed out.",
        Form(
            "/v1/accounts/password-reset/confirm",
            _PASSWORD,
            "Set the password",
            "Done: sign in with your new password.",
        ),
    )


@router.get("/accept-invitation")
def accept_invitation() -> HTMLResponse:
    code = (
        "<label>Code from your authenticator app (only if you already have an account with "
        'two-factor set up) <input name="code" inputmode="numeric" autocomplete="one-time-code">'
        "</label>"
    )
    return _page(
        "Join your organisation",
        "Choose a password for your new account. If you already have a Telemed account with "
        "this address, enter its password (and a code) instead: it joins this organisation.",
        Form(
            "/v1/invitations/accept",
            _PASSWORD + code,
            "Accept the invitation",
            "Done: sign in with your email address and password; staff set up two-factor "
            "authentication first.",
        ),
    )


@router.get("/join")
def join() -> HTMLResponse:
    return _page(
        "Your own Telemed account",
        "Choose a password: your record, with its appointments and history, becomes your own.",
        Form(
            "/v1/record-invitations/accept",
            _PASSWORD,
            "Create my account",
            "Done: sign in with your email address and this password.",
        ),
        Form(
            "/v1/record-invitations/decline",
            "",
            "No, thank you",
            "Declined: the link no longer works and nothing else changed.",
        ),
    )
