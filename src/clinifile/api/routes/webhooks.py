"""Webhook endpoints: where an account's attachment events are POSTed, signed as Standard
Webhooks says; their delivery logs and redelivery. A clinifile addition (Cliniko has none)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from clinifile.api import presenters
from clinifile.api.deps import PrincipalDep, RuntimeDep, parse_id
from clinifile.api.records import (
    CreatedWebhookEndpointRecord,
    WebhookDeliveryList,
    WebhookDeliveryRecord,
    WebhookEndpointList,
    WebhookEndpointRecord,
    errors,
    ok,
)
from clinifile.api.schemas import (
    WebhookDeliveryListQuery,
    WebhookEndpointCreate,
    WebhookEndpointListQuery,
    WebhookEndpointUpdate,
)
from clinifile.services import webhooks

router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhooks"])


def _id(value: str) -> int:
    return parse_id(value, "webhook endpoint")


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={
        **ok(CreatedWebhookEndpointRecord, "Created; the secret is shown only here", 201),
        **errors(422),
    },
)
def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    created = webhooks.create_for_account(
        runtime,
        principal.account_id,
        url=body.url,
        events=body.events,
        description=body.description,
        api_base_url=presenters.base_url(request),
    )
    record = presenters.webhook_endpoint(request, created.endpoint, created.secret)
    response.headers["Location"] = record["links"]["self"]
    return record


@router.get(
    "",
    response_model=None,
    responses={**ok(WebhookEndpointList, "A page of the account's endpoints"), **errors()},
)
def list_webhook_endpoints(
    request: Request, runtime: RuntimeDep, principal: PrincipalDep, query: WebhookEndpointListQuery
) -> dict[str, Any]:
    rows, total = webhooks.page(runtime, principal.account_id, query)
    records = [presenters.webhook_endpoint(request, row) for row in rows]
    return presenters.page(request, "webhook_endpoints", records, total, query)


@router.get(
    "/{endpoint_id}",
    response_model=None,
    responses={**ok(WebhookEndpointRecord, "The endpoint"), **errors(404)},
)
def get_webhook_endpoint(
    endpoint_id: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> dict[str, Any]:
    endpoint = webhooks.get(runtime, principal.account_id, _id(endpoint_id))
    return presenters.webhook_endpoint(request, endpoint)


@router.patch(
    "/{endpoint_id}",
    response_model=None,
    responses={**ok(WebhookEndpointRecord, "The changed endpoint"), **errors(404, 422)},
)
def update_webhook_endpoint(
    endpoint_id: str,
    body: WebhookEndpointUpdate,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    endpoint = webhooks.update(
        runtime,
        principal.account_id,
        _id(endpoint_id),
        url=body.url,
        events=body.events,
        enabled=body.enabled,
        description=body.description,
    )
    return presenters.webhook_endpoint(request, endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    response_model=None,
    responses={204: {"description": "Deleted, with its delivery log"}, **errors(404)},
)
def delete_webhook_endpoint(
    endpoint_id: str, runtime: RuntimeDep, principal: PrincipalDep
) -> Response:
    webhooks.delete(runtime, principal.account_id, _id(endpoint_id))
    return Response(status_code=204)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=None,
    responses={**ok(WebhookDeliveryList, "A page of the endpoint's deliveries"), **errors(404)},
)
def list_webhook_deliveries(
    endpoint_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    query: WebhookDeliveryListQuery,
) -> dict[str, Any]:
    rows, total = webhooks.deliveries(runtime, principal.account_id, _id(endpoint_id), query)
    records = [presenters.webhook_delivery(request, row, event) for row, event in rows]
    return presenters.page(request, "webhook_deliveries", records, total, query)


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    response_model=None,
    responses={**ok(WebhookDeliveryRecord, "The delivery"), **errors(404)},
)
def get_webhook_delivery(
    endpoint_id: str,
    delivery_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    row, event = webhooks.delivery(
        runtime, principal.account_id, _id(endpoint_id), parse_id(delivery_id, "webhook delivery")
    )
    return presenters.webhook_delivery(request, row, event)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=None,
    responses={
        **ok(WebhookDeliveryRecord, "A new delivery of the same event, due now", 202),
        **errors(404),
    },
)
def redeliver_webhook(
    endpoint_id: str,
    delivery_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    row, event = webhooks.redeliver(
        runtime, principal.account_id, _id(endpoint_id), parse_id(delivery_id, "webhook delivery")
    )
    return presenters.webhook_delivery(request, row, event)
