"""Names the dead-code gate (vulture, in `make test`) cannot see used, because something outside this
code reads them: pydantic serializes fields, Powertools reads settings and the Lambda context,
botocore, Starlette, werkzeug, moto and uvicorn call or read what is overridden or set here, and
aws-cdk-lib reads construct properties. Each line names a real attribute, so mypy fails on an entry
that no longer exists; anything else vulture reports is dead and goes.
"""

import shlex
from typing import Any, cast

import uvicorn
from aws_cdk import aws_lambda as lambda_

from bench import cold
from infra.api import _AccessLogSettings
from infra.functions import ServicesBundling
from infra.stack import TokenGateStack
from tests.integration.test_admin_input_edges import RecordingDynamoDB
from tests.unit.runtime.test_shutdown_extension import _Handler as _ExtensionsApiHandler
from tokengate.cli.options import Parser
from tokengate.emulator import _QuietHandler
from tokengate.local.asgi import _GreedyConvertor
from tokengate.local.iam import _RebuiltRequestSigner
from tokengate.local.runtime import LocalLambdaContext
from tokengate.moto_query import _Partition
from tokengate.testing.gateway_events import FakeContext
from tokengate_core.admin.api import IssuedClient, MigrationReport, RotationView
from tokengate_core.admin.guardrails import GuardrailsView
from tokengate_core.deployment.config import TracerSettings
from tokengate_core.lifecycle.github import _NoRedirects
from tokengate_core.records.model import ClientRecord, RateLimit
from tokengate_core.runtime.botocore_data import PlainJSONFileLoader, ServiceDataLoader

# pydantic fields: in the API's answers and the stored record, never read back by name in Python.
RotationView.previous_token_valid_until
IssuedClient.notice
MigrationReport.names_claimed
MigrationReport.index_built
MigrationReport.index_revoked
MigrationReport.index_complete
GuardrailsView.loosening
GuardrailsView.violations_complete
ClientRecord.schema_version
RateLimit.requests_per_second  # read back by key from the record's JSON (record_view)
# botocore's loader reads its file loader class and calls the file loader's load_file.
ServiceDataLoader.FILE_LOADER_CLASS
PlainJSONFileLoader.load_file
# Read by Powertools from the environment (POWERTOOLS_TRACER_CAPTURE_*).
TracerSettings.tracer_capture_response
TracerSettings.tracer_capture_error
# The Lambda context, read by Powertools and the handlers through LambdaContext's properties.
FakeContext.memory_limit_in_mb
LocalLambdaContext._function_name
LocalLambdaContext._function_version
LocalLambdaContext._invoked_function_arn
LocalLambdaContext._memory_limit_in_mb
LocalLambdaContext._aws_request_id
LocalLambdaContext._log_group_name
LocalLambdaContext._log_stream_name
# Overrides called by their frameworks: werkzeug's request log, Starlette's path convertor,
# botocore's SigV4 signer.
_QuietHandler.log_request
_ExtensionsApiHandler.do_POST  # http.server's: the stand-in Extensions API of the shutdown extension's test
_GreedyConvertor.convert
_GreedyConvertor.to_string
_RebuiltRequestSigner.headers_to_sign
# urllib's redirect hook (the key list follows no redirect) and aws-cdk-lib's local bundling hook
# (the leak function's asset).
_NoRedirects.redirect_request
ServicesBundling.try_bundle
# aws-cdk-lib reads the access log settings' destination and the function's tracing config.
_AccessLogSettings.destination
lambda_.CfnFunction.tracing_config
# A fake DynamoDB client: the usage gate calls its client's operations by name (getattr).
RecordingDynamoDB.update_item
# Imported for its import time.
cold.aws_lambda_powertools  # type: ignore[attr-defined]


# argparse calls them on every parser: values converted and checked without repeating them.
Parser._get_value
Parser._check_value

# Instance attributes, on values of the right type.
cast("TokenGateStack", None).monitoring  # for the stack's users
cast("uvicorn.Server", None).should_exit  # stops a test's uvicorn server
cast("Parser", None).formatter_class  # read by argparse when it formats --help
cast("shlex.shlex", None).whitespace_split  # read by shlex: a doc example's words, as a shell splits them
# moto's secret, dated by the emulator; and werkzeug's log_request(code, size) signature.
cast("Any", None).created_date
cast("Any", None).deleted_date
cast("Any", None).size
# moto's Query walks a table's items through all_items(): the benchmark narrows them to a partition.
_Partition.all_items
