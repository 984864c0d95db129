"""Partner labs (the organisation's list), lab orders (the consultation's doctor), results (the
lab's machine client), and reading them: the patient's results, the doctor's abnormal ones."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from api.auth import (
    CurrentActor,
    authorize,
    authorize_consultation,
    authorize_organisation,
    authorize_patient,
    consultation_scope,
    patient_subject,
)
from api.lab_schemas import (
    AbnormalOut,
    CancelBody,
    LabOrderBody,
    LabOrderOut,
    PartnerLabBody,
    PartnerLabOut,
    ResultsBody,
)
from api.policy import STAFF, Action
from api.problems import PROBLEM_RESPONSES
from api.reads import (
    AfterHeader,
    AfterQuery,
    PurposeHeader,
    accepted,
    await_position,
    record_access,
)
from api.schemas import Accepted
from api.state import services_of
from commands import labs as cmd
from domain.lab_order import is_abnormal, observation, ordered_test
from projections.labs import OrderRow

router = APIRouter(prefix="/v1", tags=["labs"], responses=PROBLEM_RESPONSES)


@router.post(
    "/organisations/{organisation_id}/partner-labs",
    status_code=status.HTTP_201_CREATED,
    response_model=Accepted,
)
def add_partner_lab(
    organisation_id: UUID,
    body: PartnerLabBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Add a lab (answers its id); it reports with one of the organisation's machine clients."""
    authorize_organisation(request, actor, Action.MANAGE_PARTNER_LABS, organisation_id)
    saved = services_of(request).bus.handle(
        cmd.AddPartnerLab(actor, organisation_id, body.name, body.client_id)
    )
    return accepted(response, saved)


@router.delete("/organisations/{organisation_id}/partner-labs/{lab_id}", response_model=Accepted)
def remove_partner_lab(
    organisation_id: UUID, lab_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """No new orders go to it; orders it has may still be reported."""
    authorize_organisation(request, actor, Action.MANAGE_PARTNER_LABS, organisation_id)
    saved = services_of(request).bus.handle(cmd.RemovePartnerLab(actor, organisation_id, lab_id))
    return accepted(response, saved)


@router.get("/organisations/{organisation_id}/partner-labs", response_model=list[PartnerLabOut])
def partner_labs(
    organisation_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> list[dict[str, Any]]:
    authorize_organisation(request, actor, Action.READ_PARTNER_LABS, organisation_id)
    services = services_of(request)
    await_position(services, "labs", after, after_header)
    return [
        {"lab_id": lab.lab_id, "name": lab.name, "client_id": lab.client_id}
        for lab in services.labs.partners(organisation_id)
    ]


@router.post(
    "/consultations/{consultation_id}/lab-orders",
    status_code=status.HTTP_201_CREATED,
    response_model=Accepted,
)
def order_tests(
    consultation_id: UUID,
    body: LabOrderBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """The consultation's doctor, once treating (409 with the state before): tests (LOINC,
    check digit verified) from a partner lab, with an optional clinical note; the tests and the
    note are encrypted with the patient's key."""
    scope = consultation_scope(request, consultation_id)
    acting = authorize_consultation(request, actor, Action.ORDER_LAB_TESTS, scope)
    tests = tuple(ordered_test(t.code, t.display) for t in body.tests)
    saved = services_of(request).bus.handle(
        cmd.OrderLabTests(acting, consultation_id, body.lab_id, tests, body.note)
    )
    response.headers["Location"] = f"/v1/patients/{scope.patient_id}/results"
    return accepted(response, saved)


@router.post(
    "/consultations/{consultation_id}/lab-orders/{order_id}/cancel", response_model=Accepted
)
def cancel_order(
    consultation_id: UUID,
    order_id: UUID,
    body: CancelBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Before any result (409 with the state after), with a reason (encrypted)."""
    scope = consultation_scope(request, consultation_id)
    acting = authorize_consultation(request, actor, Action.ORDER_LAB_TESTS, scope)
    saved = services_of(request).bus.handle(
        cmd.CancelLabOrder(acting, consultation_id, order_id, body.reason)
    )
    return accepted(response, saved)


@router.post("/lab-orders/{order_id}/results", response_model=Accepted)
def report_results(
    order_id: UUID, body: ResultsBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The machine client of the lab the order was sent to (a bearer token from
    ``POST /v1/oauth/token``): one result per test code; a code again corrects it. 404 for an
    unknown order, 403 for an order of another lab or organisation, 409 once cancelled."""
    authorize(actor, Action.REPORT_LAB_RESULTS)
    results = tuple(
        observation(
            code=r.code,
            kind=r.kind,
            value=r.value,
            unit=r.unit,
            low=r.low,
            high=r.high,
            system=r.system,
            display=r.display,
            flag=r.flag,
            comment=r.comment,
            effective_at=r.effective_at,
        )
        for r in body.results
    )
    saved = services_of(request).bus.handle(cmd.ReportLabResults(actor, order_id, results))
    return accepted(response, saved)


def _order_out(order: OrderRow) -> dict[str, Any]:
    return {
        "id": order.order_id,
        "version": order.version,
        "patient_id": order.patient_id,
        "consultation_id": order.consultation_id,
        "doctor_id": order.doctor_id,
        "organisation_id": order.organisation_id,
        "lab_id": order.lab_id,
        "status": order.status,
        "ordered_at": order.ordered_at,
        "updated_at": order.updated_at,
        "tests": order.tests,
        "note": order.note,
        "cancel_reason": order.cancel_reason,
        "results": [{**r, "abnormal": is_abnormal(r)} for r in order.results],
    }


@router.get("/patients/{patient_id}/results", response_model=list[LabOrderOut])
def patient_results(
    patient_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> list[dict[str, Any]]:
    """The patient's lab orders and results, newest first: for the patient (their holder, a
    caregiver with the read-records scope) and the care team (staff see their organisation's
    orders only). The read is on the patient's access log."""
    services = services_of(request)
    reader = authorize_patient(
        request, actor, Action.READ_LAB_RESULTS, patient_subject(request, patient_id)
    )
    await_position(services, "labs", after, after_header)
    orders = services.labs.of_patient(patient_id)
    if actor.role in STAFF:
        orders = [o for o in orders if o.organisation_id == actor.organisation_id]
    record_access(services, reader, [patient_id], "patient.lab-results", purpose)
    return [_order_out(o) for o in orders]


@router.get("/doctors/me/abnormal-results", response_model=list[AbnormalOut])
def abnormal_results(
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> list[dict[str, Any]]:
    """The signed-in doctor's orders with abnormal results (ids and counts only; the values
    are read from the patient's results). Every patient listed is on the access log."""
    authorize(actor, Action.READ_ABNORMAL_RESULTS)
    services = services_of(request)
    await_position(services, "labs", after, after_header)
    rows = services.labs.abnormal_for(actor.actor_id)
    record_access(services, actor, sorted({r.patient_id for r in rows}), "doctor.abnormal", purpose)
    return [
        {
            "order_id": r.order_id,
            "patient_id": r.patient_id,
            "consultation_id": r.consultation_id,
            "lab_id": r.lab_id,
            "status": r.status,
            "abnormal_results": r.abnormal_results,
            "updated_at": r.updated_at,
        }
        for r in rows
    ]
