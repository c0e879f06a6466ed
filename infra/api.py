"""The HTTP API: one named stage with access logging and throttling, routes from
tokengate_core.deployment.routes.ROUTES.

Routes map to functions by name, and their authorization type comes from the same table: CUSTOM
routes get the Lambda authorizer, AWS_IAM routes get SigV4 authorization. There is no $default
route, so any other path is a 404 from API Gateway itself.

Every CUSTOM route's integration copies values of the authorizer's context into response headers
(tokengate_core.deployment.routes.authorizer_response_headers: ``Tokengate-Token-Status`` tells a client
that it used its previous token, in grace, and until when). The L2 integration has no response
parameters, so they are set on its CloudFormation resource.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import Aws
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import REASON_SIGNED_WEBHOOK, acknowledge
from infra.settings import StackSettings
from tokengate_core.deployment.functions import FunctionName
from tokengate_core.deployment.routes import ROUTES, authorizer_response_headers, mapped_status_codes

#: One JSON object per request. Who (tenant, client id, IAM caller) and what happened; never a
#: header, so never the Authorization header or a token.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "ip": "$context.identity.sourceIp",
        "method": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "tenant": "$context.authorizer.tenant",
        "clientId": "$context.authorizer.client_id",
        "iamCaller": "$context.identity.userArn",
        "error": "$context.error.message",
    },
    separators=(",", ":"),
)


def authorizer_response_parameters() -> dict[str, dict[str, list[dict[str, str]]]]:
    """The integration's ResponseParameters: per status code, each header overwritten from the
    authorizer's context (``$context.authorizer.<key>``). CloudFormation's shape for it is
    ``{"<status>": {"ResponseParameters": [{"Destination": ..., "Source": ...}]}}``."""
    mappings = [
        {"Destination": f"overwrite:header.{header}", "Source": f"$context.authorizer.{key}"}
        for header, key in authorizer_response_headers().items()
    ]
    return {str(status): {"ResponseParameters": mappings} for status in mapped_status_codes()}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        functions: dict[FunctionName, lambda_.IFunction],
        token_authorizer: authorizers.HttpLambdaAuthorizer,
        access_logs: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"{settings.stack_name}-api",
            description="tokengate: per-client bearer tokens in front of a protected integration",
            create_default_stage=False,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.http_api,
            stage_name=settings.stage,
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(access_logs),
            throttle=apigwv2.ThrottleSettings(
                rate_limit=settings.throttle_rate_limit, burst_limit=settings.throttle_burst_limit
            ),
        )
        by_kind: dict[str, apigwv2.IHttpRouteAuthorizer] = {
            "CUSTOM": token_authorizer,
            "AWS_IAM": authorizers.HttpIamAuthorizer(),
            # The function authenticates every request itself (the leak endpoint: GitHub's signature).
            "NONE": apigwv2.HttpNoneAuthorizer(),
        }
        route_settings: dict[str, dict[str, float]] = {}
        for route in ROUTES:
            integration_id = f"{route.function.capitalize()}Integration"
            integration = integrations.HttpLambdaIntegration(integration_id, functions[route.function])
            authorizer = by_kind[route.authorization]
            http_route = apigwv2.HttpRoute(
                self,
                f"Route{route.function.capitalize()}",
                http_api=self.http_api,
                route_key=apigwv2.HttpRouteKey.with_(route.path, apigwv2.HttpMethod(route.method)),
                integration=integration,
                authorizer=authorizer,
            )
            if route.authorization == "CUSTOM":
                # The route binds its integration under itself (aws-cdk-lib HttpRoute).
                cfn_integration = http_route.node.find_child(integration_id).node.default_child
                assert isinstance(cfn_integration, apigwv2.CfnIntegration)
                cfn_integration.add_property_override("ResponseParameters", authorizer_response_parameters())
            if route.authorization == "NONE":
                # Anyone can call it: its own small throttle bounds what an outsider can make us pay.
                route_settings[route.route_key] = {
                    "ThrottlingRateLimit": settings.leaks_throttle_rate_limit,
                    "ThrottlingBurstLimit": settings.leaks_throttle_burst_limit,
                }
                acknowledge(http_route, "AwsSolutions-APIG4", REASON_SIGNED_WEBHOOK)
        if route_settings:
            cfn_stage = self.stage.node.default_child
            assert isinstance(cfn_stage, apigwv2.CfnStage)
            cfn_stage.add_property_override("RouteSettings", route_settings)
        #: The stage's base URL, without a trailing slash (the CLI and docs append paths to it).
        self.url = f"https://{self.http_api.api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/{settings.stage}"
