"""The OpenAPI document: what FastAPI generates, plus authentication, the User-Agent
header, and the links between operations."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute


def operation_id(route: APIRoute) -> str:
    """Operation ids are the route functions' names: get_patient, create_attachment..."""
    return route.name


def _patient_links(source: str) -> dict[str, tuple[str, str, str]]:
    return {
        "GetPatient": ("get_patient", "patient_id", source),
        "PresignUpload": ("presigned_post", "patient_id", source),
        "ListAttachments": ("list_patient_attachments", "patient_id", source),
        "ArchivePatient": ("archive_patient", "patient_id", source),
        "UnarchivePatient": ("unarchive_patient", "patient_id", source),
    }


def _attachment_links(source: str) -> dict[str, tuple[str, str, str]]:
    return {
        "GetAttachment": ("get_attachment", "attachment_id", source),
        "UpdateAttachment": ("update_attachment", "attachment_id", source),
        "DownloadContent": ("attachment_content", "attachment_id", source),
        "GetPreview": ("attachment_preview", "attachment_id", source),
        "ArchiveAttachment": ("archive_attachment", "attachment_id", source),
        "DeleteAttachment": ("delete_attachment", "attachment_id", source),
    }


# (path, method, status) → link name → (operationId, its path parameter, where the value is)
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, str]]] = {
    ("/v1/patients", "post", "201"): _patient_links("$response.body#/id"),
    ("/v1/patients", "get", "200"): _patient_links("$response.body#/patients/0/id"),
    ("/v1/patients/{patient_id}/unarchive", "post", "200"): _patient_links("$response.body#/id"),
    ("/v1/patient_attachments", "post", "201"): _attachment_links("$response.body#/id"),
    ("/v1/patient_attachments", "get", "200"): _attachment_links(
        "$response.body#/patient_attachments/0/id"
    ),
    ("/v1/patients/{patient_id}/patient_attachments", "get", "200"): _attachment_links(
        "$response.body#/patient_attachments/0/id"
    ),
    ("/v1/audit_events", "get", "200"): {
        "GetAuditEvent": ("get_audit_event", "event_id", "$response.body#/audit_events/0/id")
    },
}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The generated document, plus HTTP Basic auth (the API key as user name), the
    required User-Agent, and links from each created or listed record to what can be done
    with it next (for clients and for stateful testing)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "basic",
            "description": "The API key as the user name, an empty password.",
        }
    }
    for path in schema["paths"].values():
        for operation in path.values():
            for status in ("204", "303"):  # no body: the Location header is the answer
                operation["responses"].get(status, {}).pop("content", None)
            operation["security"] = [{"apiKey": []}]
            operation.setdefault("parameters", []).append(
                {
                    "name": "User-Agent",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "Required: name your application and a contact.",
                }
            )
    for (path, method, status), links in LINKS.items():
        schema["paths"][path][method]["responses"][status]["links"] = {
            name: {"operationId": target, "parameters": {param: source}}
            for name, (target, param, source) in links.items()
        }
    app.openapi_schema = schema
    return schema
