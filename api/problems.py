"""RFC 9457 problem details: every refusal, one stable ``type`` URI per kind of problem."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.crypto.subject_keys import KeyDestroyed
from commands.results import (
    ConcurrencyConflict,
    IdempotencyConflict,
    NotFound,
    StaleVersion,
)
from domain.account import HoldsBeneficiaries, NotAMember, RoleMismatch
from domain.admin_roster import LastAdmin
from domain.booking import SlotNotOffered, SlotTaken
from domain.clinical_protocol import (
    MissingSections,
    NotTheDoctor,
    ProtocolNotSigned,
    ProtocolSigned,
)
from domain.consent_text import NotTheCurrentVersion
from domain.consultation import ConsultationClosed, NotNow
from domain.doctor_desk import DoctorBusy
from domain.errors import ConsentNotGiven, DomainError, InvalidValue, PatientErased
from domain.intake import InvalidField
from domain.jurisdiction import RuleViolation
from domain.lab_order import NotYourOrder
from domain.machine_client import ClientRevoked, WrongPurpose
from domain.on_call import AlreadyTaken, NotOnDuty, RequestOver
from domain.partner_labs import NotAPartnerLab
from domain.prescription import NotAPharmacy, NotDispensable, NotThePrescriber
from domain.record_invitation import AlreadyHasAccount, InvitationNotValid
from domain.schedule import NotPractisingThere, UnknownPractice
from domain.teleconference import NotInvited, TeleconferenceFull

log = logging.getLogger("telemed.api")

MEDIA_TYPE = "application/problem+json"
_BASE = "urn:telemed:problem:"


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self, status: int, kind: str, title: str, detail: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or title)
        self.status, self.kind, self.title, self.detail, self.extra = (
            status,
            kind,
            title,
            detail,
            extra,
        )


def problem_response(
    status: int,
    kind: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": _BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {
        "description": text,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code, text in (
        (400, "Malformed request"),
        (401, "Not authenticated"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflict"),
        (412, "Precondition failed"),
        (413, "Body too large"),
        (422, "Invalid input"),
        (503, "Read model lagging"),
    )
}

_DOMAIN: dict[type[Exception], tuple[int, str, str]] = {
    PatientErased: (409, "patient-erased", "The patient's record was erased"),
    ConsentNotGiven: (409, "consent-not-given", "That consent is not in force"),
    InvalidValue: (422, "invalid-value", "A value is not valid"),
    SlotTaken: (409, "slot-taken", "That slot was taken"),
    SlotNotOffered: (409, "slot-not-offered", "The schedule does not offer that slot"),
    ConsultationClosed: (409, "consultation-closed", "The consultation is closed"),
    UnknownPractice: (422, "unknown-practice", "The doctor does not work at that practice"),
    NotPractisingThere: (403, "forbidden", "The doctor does not practise there for you"),
    RoleMismatch: (409, "role-mismatch", "The account has another role"),
    NotAMember: (422, "not-a-member", "Not a member of that organisation"),
    InvitationNotValid: (400, "invalid-invitation", "The link is not valid"),
    AlreadyHasAccount: (409, "already-has-account", "The record has its own account"),
    LastAdmin: (409, "last-admin", "An organisation keeps at least one active admin"),
    NotOnDuty: (409, "not-on-duty", "Only a doctor on duty in the pool accepts its requests"),
    TeleconferenceFull: (409, "teleconference-full", "The teleconference has 20 participants"),
    NotInvited: (409, "not-invited", "Not a participant of the teleconference"),
    ProtocolSigned: (409, "protocol-signed", "The protocol is signed: add a signed addendum"),
    ProtocolNotSigned: (409, "protocol-not-signed", "Addenda correct a signed protocol"),
    NotTheDoctor: (403, "forbidden", "Only the consultation's doctor signs"),
    NotYourOrder: (403, "forbidden", "Not your lab order"),
    NotAPartnerLab: (422, "not-a-partner-lab", "The lab is not on the organisation's list"),
    ClientRevoked: (409, "client-revoked", "The machine client was revoked"),
    NotTheCurrentVersion: (
        409,
        "stale-consent-version",
        "Only the current version of a consent text is signed",
    ),
    NotThePrescriber: (403, "forbidden", "Only the prescribing doctor changes a prescription"),
    NotAPharmacy: (403, "forbidden", "Only a pharmacy's machine client verifies and dispenses"),
    WrongPurpose: (422, "wrong-client-purpose", "The machine client is not for this"),
}


def _not_json(request: Request) -> bool:
    """A body sent as something other than JSON (FastAPI then leaves it unparsed)."""
    declared = request.headers.get("content-type")
    if declared is None:
        return int(request.headers.get("content-length") or 0) > 0
    media = declared.split(";", 1)[0].strip().lower()
    return not (media == "application/json" or media.endswith("+json"))


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.kind, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        if _not_json(request) and any(tuple(e.get("loc", ())) == ("body",) for e in exc.errors()):
            return problem_response(
                415, "unsupported-media-type", "Send the body as JSON (application/json)"
            )
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        if malformed:
            return problem_response(
                400, "malformed-json", "The body is not valid JSON", errors=errors
            )
        return problem_response(422, "validation", "The request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {
            404: "not-found",
            405: "method-not-allowed",
            401: "unauthenticated",
            403: "forbidden",
            413: "body-too-large",
        }
        return problem_response(
            exc.status_code,
            kinds.get(exc.status_code, "http"),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return problem_response(404, "not-found", f"{exc.kind} not found")

    @app.exception_handler(StaleVersion)
    async def _stale(_: Request, exc: StaleVersion) -> JSONResponse:
        return problem_response(
            412,
            "stale-version",
            "The record changed since you read it",
            str(exc),
            current_version=exc.actual,
        )

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return problem_response(
            409,
            "concurrency-conflict",
            "Someone else changed this record at the same moment; retry",
        )

    @app.exception_handler(IdempotencyConflict)
    async def _idem(_: Request, exc: IdempotencyConflict) -> JSONResponse:
        return problem_response(
            409, "idempotency-key-reused", "This Idempotency-Key was used for a different request"
        )

    @app.exception_handler(HoldsBeneficiaries)
    async def _holder(_: Request, exc: HoldsBeneficiaries) -> JSONResponse:
        return problem_response(
            409,
            "holds-beneficiaries",
            "Transfer or erase each beneficiary first",
            str(exc),
            beneficiaries=[str(b) for b in exc.beneficiaries],
        )

    @app.exception_handler(NotNow)
    async def _not_now(_: Request, exc: NotNow) -> JSONResponse:
        return problem_response(
            409,
            "not-now",
            "The consultation's state does not allow that",
            str(exc),
            state=exc.state,
        )

    @app.exception_handler(InvalidField)
    async def _field(_: Request, exc: InvalidField) -> JSONResponse:
        return problem_response(
            422, "invalid-value", "A value is not valid", str(exc), field=exc.field
        )

    @app.exception_handler(AlreadyTaken)
    async def _taken(_: Request, exc: AlreadyTaken) -> JSONResponse:
        return problem_response(
            409,
            "already-taken",
            "Another doctor accepted this request first",
            taken_by_role=exc.taken_by_role,
        )

    @app.exception_handler(RequestOver)
    async def _over(_: Request, exc: RequestOver) -> JSONResponse:
        return problem_response(
            409, "request-over", "The request is no longer open", state=exc.state
        )

    @app.exception_handler(DoctorBusy)
    async def _busy(_: Request, exc: DoctorBusy) -> JSONResponse:
        return problem_response(
            409,
            "doctor-busy",
            "The doctor is in another consultation",
            consultation_id=str(exc.consultation_id),
        )

    @app.exception_handler(MissingSections)
    async def _missing(_: Request, exc: MissingSections) -> JSONResponse:
        return problem_response(
            409,
            "missing-sections",
            "Required sections of the protocol are missing",
            str(exc),
            missing=exc.missing,
        )

    @app.exception_handler(RuleViolation)
    async def _rule(_: Request, exc: RuleViolation) -> JSONResponse:
        return problem_response(
            409,
            "rule-violation",
            "A rule of the organisation does not allow this",
            exc.explanation,
            rule_id=exc.rule_id,
            rule_version=exc.version,
        )

    @app.exception_handler(NotDispensable)
    async def _not_dispensable(_: Request, exc: NotDispensable) -> JSONResponse:
        return problem_response(
            409,
            "not-dispensable",
            "The prescription cannot be dispensed or changed",
            str(exc),
            reason=exc.reason,
        )

    @app.exception_handler(KeyDestroyed)
    async def _erased(_: Request, exc: KeyDestroyed) -> JSONResponse:
        return problem_response(409, "patient-erased", "The patient's record was erased")

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status, kind, title = _DOMAIN.get(type(exc), (409, "refused", "The command was refused"))
        return problem_response(status, kind, title, str(exc) or None)
