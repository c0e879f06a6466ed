"""The template's token status header: every custom route maps it on every status code, and the
codes mapped are ones API Gateway accepts."""

from __future__ import annotations

from typing import Any

import pytest

from infra.api import authorizer_response_parameters
from tests.infra.test_token_delivery import integration_of
from tokengate_core.deployment.routes import (
    ROUTES,
    TOKEN_STATUS_HEADER,
    authorizer_response_headers,
    mapped_status_codes,
)
from tokengate_core.records.view import TOKEN_STATUS_KEY

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def test_every_custom_route_maps_the_token_status_header_on_every_status_code(template_json: dict[str, Any]) -> None:
    assert authorizer_response_headers() == {TOKEN_STATUS_HEADER: TOKEN_STATUS_KEY}
    for route in ROUTES:
        parameters = integration_of(template_json, route.route_key).get("ResponseParameters")
        if route.authorization != "CUSTOM":
            assert parameters is None, route  # an IAM caller has no authorizer context
            continue
        assert parameters == authorizer_response_parameters()
        assert set(parameters) == {str(code) for code in mapped_status_codes()}
        assert {"200", "403", "404", "500", "503"} <= set(parameters)
        for mapping in parameters.values():
            assert mapping == {
                "ResponseParameters": [
                    {
                        "Destination": "overwrite:header.Tokengate-Token-Status",
                        "Source": "$context.authorizer.token_status",
                    }
                ]
            }


def test_mapped_status_codes_are_what_api_gateway_accepts() -> None:
    codes = mapped_status_codes()
    assert all(200 <= code <= 599 for code in codes)
    assert len(set(codes)) == len(codes)
