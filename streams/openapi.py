"""The score API's OpenAPI 3.1 document, generated from the response models.

Served at `/v1/openapi.json` by the worker (`streams.score_api`). The schemas come from
`signals.person_score` in serialization mode (what the API sends), never written by hand;
OpenAPI 3.1 takes JSON Schema 2020-12 as pydantic writes it. The path parameters' limits
are the ones `streams.score_api.parse_path` enforces.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from signals.person_score import ApiError, PersonScore
from streams.score_api import MAX_DOMAIN, MAX_PERSON_KEY, OPENAPI_PATH, PERSON_PATH

__all__ = ["openapi_document"]

_ERRORS = {
    "400": "A path part is malformed: empty, too long, or holding a character it cannot hold.",
    "401": "No bearer token, or not one of the configured ones.",
    "404": "The API is off (no token configured), or the account or person is not known.",
    "500": "The stored state of the person cannot be read by this version.",
    "503": "The account's partition has no owner now, is recovering, or its worker did not "
    "answer: retry after `Retry-After` seconds.",
}


def _parameter(name: str, limit: int, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": limit},
        "example": example,
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The document, for the build `version` (the `info.version`)."""
    refs, defs = models_json_schema(
        [(PersonScore, "serialization"), (ApiError, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    score_ref = refs[(PersonScore, "serialization")]
    error_ref = refs[(ApiError, "serialization")]

    def error(text: str) -> dict[str, Any]:
        return {"description": text, "content": {"application/json": {"schema": error_ref}}}

    person = {
        "get": {
            "operationId": "getPersonScore",
            "summary": "A person's live score, and why no window would open now",
            "parameters": [
                _parameter(
                    "domain",
                    MAX_DOMAIN,
                    "The account's domain; normalised as the engine keys accounts "
                    "(lowercase, no `www.`, IDNA).",
                    "acme-data.example",
                ),
                _parameter(
                    "person_key",
                    MAX_PERSON_KEY,
                    "The person's email address (lowercased) or `id:<CRM id>`.",
                    "dana.vp@acme-data.example",
                ),
            ],
            "security": [{"bearer": []}],
            "responses": {
                "200": {
                    "description": "The person scored now.",
                    "content": {"application/json": {"schema": score_ref}},
                },
                **{status: error(text) for status, text in _ERRORS.items()},
            },
        }
    }
    document = {
        "get": {
            "operationId": "getOpenApiDocument",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document of the score API.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "404": error(_ERRORS["404"].split(",")[0] + "."),
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "followup-signals score API",
            "version": version,
            "description": "A person's live score on the worker that owns their account; "
            "any worker answers (requests are routed to the owner).",
        },
        "paths": {PERSON_PATH: person, OPENAPI_PATH: document},
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
