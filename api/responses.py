"""Which problem statuses each operation of the OpenAPI document announces, in one place.

Most follow from what the operation is, read off the document itself; the few that only some
routes produce are listed in ``ADDED``. The document then neither hides a status the server
sends nor announces one it never does (tests/test_schemathesis.py holds it to that)."""

from __future__ import annotations

from typing import Any

from api.problems import MEDIA_TYPE

TEXTS = {
    400: "Malformed request: not JSON, or a header or cursor this API did not hand out",
    401: "Not signed in, or the session ended; or a second factor is needed",
    403: "Signed in, but not allowed to do this here",
    404: "No such record (or not one of yours)",
    409: "Conflicts with the record's state, or with a write at the same moment",
    412: "If-Match names a version that is no longer current",
    413: "The body is larger than the server accepts",
    415: "The body is not JSON (Content-Type: application/json)",
    422: "A value is not valid",
    429: "Too many failed attempts; wait and retry",
    500: "Failed on our side (internal-error, naming a correlation id; or an integrity alarm)",
    503: "Briefly unavailable (an outage, or the read model catching up); see Retry-After",
}

#: statuses only these operations produce: throttled guessing, deactivated accounts,
#: refusals of sign-in-like routes that have no session yet
ADDED: dict[tuple[str, str], frozenset[int]] = {
    ("post", "/v1/sessions"): frozenset({401, 403, 429}),
    ("post", "/v1/sessions/current/step-up"): frozenset({429}),
    ("post", "/v1/invitations/accept"): frozenset({401, 403, 429}),
    ("post", "/v1/record-invitations/accept"): frozenset({429}),
    ("post", "/v1/record-invitations/decline"): frozenset({429}),
    ("post", "/v1/accounts/password-reset/confirm"): frozenset({400}),
    # a machine client's token exchange: wrong credentials, throttled guessing
    ("post", "/v1/oauth/token"): frozenset({401, 429}),
    # a pharmacy's lookups by code: a wrong code (404), throttled guessing
    ("post", "/v1/pharmacy/prescriptions/verify"): frozenset({404, 429}),
    ("post", "/v1/pharmacy/prescriptions/dispense"): frozenset({404, 429}),
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _names_records(document: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether a JSON body names records by id (which may not exist: 404)."""
    json_body = body.get("content", {}).get("application/json", {})
    schema = _resolve(document, json_body.get("schema", {}))
    for prop in schema.get("properties", {}).values():
        options = [prop, *prop.get("anyOf", [])]
        if any(_resolve(document, o).get("format") == "uuid" for o in options):
            return True
    return False


def statuses(document: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> set[int]:
    """The problem statuses an operation can answer."""
    params = op.get("parameters", [])
    body = op.get("requestBody")
    headers = {p["name"].lower() for p in params if p["in"] == "header"}
    in_path = any(p["in"] == "path" for p in params)
    found = {413, 500, 503}  # any request: a declared length too large, a bug, an outage
    if body is not None:
        found |= {400, 415, 422}
    if params:
        found.add(422)
    if "if-match" in headers:
        found |= {400, 412}
    if any(p["name"] == "cursor" for p in params):
        found.add(400)
    if op.get("security"):
        found.add(401)
    if "x-organisation-id" in headers:  # staff acting for one of their organisations
        found.add(403)
    if in_path or (body is not None and _names_records(document, body)):
        found |= {404, 409}
    if method != "get":
        found.add(409)  # a write racing another, or a reused Idempotency-Key
    return found | ADDED.get((method, path), frozenset())


def document_problems(document: dict[str, Any]) -> None:
    """Replace every operation's error responses by the ones it can really answer."""
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            responses = {
                code: answer
                for code, answer in op.get("responses", {}).items()
                if not str(code).startswith(("4", "5"))
            }
            for status in sorted(statuses(document, method, path, op)):
                responses[str(status)] = {
                    "description": TEXTS[status],
                    "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
            op["responses"] = responses
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
