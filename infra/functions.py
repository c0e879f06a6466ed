"""One Lambda function of the function table (tokengate_core.deployment.functions.FUNCTIONS), with
its own role and log group.

What every function shares is decided here, once:

- Runtime: Python 3.14, the newest Python runtime aws-cdk-lib knows. cdk-nag's AwsSolutions-L1
  compares a function's runtime with the newest runtime of the same family in
  ``aws_lambda.Runtime.ALL`` of the installed aws-cdk-lib, so anything older is a finding.
- arm64 (Graviton): cheaper per GB-second than x86_64, and nothing in the code is
  architecture-specific (the only native wheel, pydantic-core, comes in the layer built for arm64).
- Code: the services/ directory, plus the botocore data the authorizer's clients read, derived
  from the installed botocore when the asset is built (infra/sdk_data.py), and every module's
  bytecode for the runtime's Python, so no cold start compiles tokengate's code
  (infra/bytecode.py). Its only third-party imports (Powertools, pydantic and their dependencies)
  come from the official Powertools V3 layer, and boto3 from the runtime, so neither synth nor
  deploy needs Docker or a pip download. The layer is the one built from the Powertools release
  installed here, the release the lockfiles pin and the tests run: its ARN is the public SSM
  parameter Powertools publishes for that release in each region.
- Role: its own, with no managed policy: it may write to its own log group and nothing else until a
  construct adds a statement; a function that publishes lifecycle events (FunctionSpec.emits) may
  put exactly those on the deployment's bus (infra/events.py).
- Shutdown: a function that holds work in memory (FunctionSpec.graceful_shutdown: the authorizer's
  usage counts) also gets the shutdown extension's layer (infra/shutdown.py), so Lambda sends it
  SIGTERM before ending an idle environment.
- Tracing: X-Ray active tracing for the functions the core marks traced (FunctionSpec.traced:
  admin and rotation, which run Powertools Tracer), with the two X-Ray write actions in a policy of
  their own; the others are not traced and do not load Tracer.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Duration, ILocalBundling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import SERVICES_DIR
from infra.bytecode import compile_asset, runtime_version
from infra.events import grant_put_events
from infra.nag import REASON_XRAY, acknowledge
from infra.sdk_data import derive
from infra.settings import LAMBDA_ARCHITECTURE, StackSettings
from infra.shutdown import shutdown_layer
from tokengate_core.deployment.config import AuthorizerSettings, EnvModel
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = {a.name: a for a in (lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64)}[LAMBDA_ARCHITECTURE]

#: The official layer's ARN for one Powertools release, architecture and Python runtime, as the
#: Powertools team publishes it in every region it publishes the layer to: a public SSM parameter,
#: ``/aws/service/powertools/python/{arch}/{python_version}/{version}`` (Powertools for AWS Lambda
#: (Python) documentation, "Lambda Layer"; its value is e.g.
#: ``arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27``).
POWERTOOLS_PARAMETER = "/aws/service/powertools/python/{architecture}/{runtime}/{version}"

#: What a traced function needs to send its segments to X-Ray (no resource-level permissions).
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")

#: Files of services/ that are build litter, not code.
ASSET_EXCLUDE = ["__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache"]


@jsii.implements(ILocalBundling)
class ServicesBundling:
    """Synth's local bundling (no Docker): services/ without build litter, the derived botocore data
    (infra/sdk_data.py) and, for a function that has some, its wheels (infra/bundle.py)."""

    def __init__(self, extra: Path | None = None, ignore: tuple[str, ...] = ()) -> None:
        self._extra = extra
        self._ignore = ignore

    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(SERVICES_DIR, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*ASSET_EXCLUDE))
        if self._extra is not None:
            patterns = shutil.ignore_patterns(*self._ignore, *ASSET_EXCLUDE)
            shutil.copytree(self._extra, out, dirs_exist_ok=True, ignore=patterns)
        derive(out)
        compile_asset(out, runtime_version(RUNTIME.name))
        return True


def bundled_code(local: ServicesBundling, **environment: str) -> lambda_.Code:
    """An asset of services/ built by ``local``, hashed by content (a new botocore's data or a new
    wheel is a new asset even when services/ did not change)."""
    return lambda_.Code.from_asset(
        str(SERVICES_DIR),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # The CDK reuses what it bundled for the same source path and bundling options (its
            # asset staging cache), and the local bundler does not tell two assets apart there:
            # the (never used) container environment does.
            environment=environment,
            # Never pulled: the local bundling always succeeds.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=local,
        ),
    )


def services_code() -> lambda_.Code:
    """The one code asset every function shares (uploaded once); a function with bundled wheels
    (the leak function) adds its own."""
    return bundled_code(ServicesBundling(), TOKENGATE_ASSET="services")


def powertools_release() -> str:
    """The Powertools release installed here: the one the lockfiles pin, the tests and the local
    stack run, and so the one whose layer the functions get."""
    return metadata.version("aws-lambda-powertools")


def powertools_layer_parameter(release: str) -> str:
    """The public SSM parameter that holds ``release``'s layer ARN for python3.14/arm64."""
    return POWERTOOLS_PARAMETER.format(architecture=LAMBDA_ARCHITECTURE, runtime=RUNTIME.name, version=release)


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The official Powertools V3 layer of :func:`powertools_release`, in the region the stack
    deploys to: CloudFormation reads the ARN from the region's public parameter at deploy time, so
    one synthesized template deploys to any region, and a release without a published layer fails
    the deploy, naming the parameter, rather than running code the tests never ran."""
    arn = ssm.StringParameter.value_for_string_parameter(scope, powertools_layer_parameter(powertools_release()))
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)


#: What the stack's settings offer a function by name: their fields and derived values (the
#: per-stack metrics namespace, say).
STACK_VALUES = frozenset(StackSettings.model_fields) | {
    name for name, value in vars(StackSettings).items() if isinstance(value, property)
}


class FunctionAssets(NamedTuple):
    """What every function of the stack is built from, passed to each construct once: the stack's
    settings, the services/ code, the Powertools layer and each function's log group."""

    settings: StackSettings
    code: lambda_.Code
    layer: lambda_.ILayerVersion
    log_groups: Mapping[FunctionName, logs.ILogGroup]

    def environment(
        self, settings_class: type[EnvModel] | type[AuthorizerSettings], **overrides: Any
    ) -> dict[str, str]:
        """The environment of a function whose settings are ``settings_class``: each of its fields
        that the stack's settings also have, under the same name, comes from them, so a context
        value reaches every function that reads it; ``overrides`` name the others."""
        fields = (
            settings_class.FIELDS if issubclass(settings_class, AuthorizerSettings) else settings_class.model_fields
        )
        shared = {name: getattr(self.settings, name) for name in fields if name in STACK_VALUES}
        return settings_class(**{**shared, **overrides}).to_env()

    def function(
        self,
        scope: Construct,
        name: FunctionName,
        environment: dict[str, str],
        *,
        construct_id: str = "Handler",
        code: lambda_.Code | None = None,
    ) -> TokengateFunction:
        """The function ``name``; ``code`` replaces the shared code (a function with bundled wheels)."""
        return TokengateFunction(
            scope,
            construct_id,
            name=name,
            environment=environment,
            code=code or self.code,
            layer=self.layer,
            log_group=self.log_groups[name],
            settings=self.settings,
        )


class TokengateFunction(Construct):
    """A function from ``FUNCTIONS[name]``: handler, description and environment all come from the core."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: FunctionName,
        environment: dict[str, str],
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        log_group: logs.ILogGroup,
        settings: StackSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        spec = FUNCTIONS[name]
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"tokengate {name} function: its log group plus what its construct grants",
        )
        log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=spec.handler,
            description=spec.description,
            layers=[layer, shutdown_layer(self, RUNTIME, ARCHITECTURE)] if spec.graceful_shutdown else [layer],
            environment=environment,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            reserved_concurrent_executions=settings.reserved_concurrency.get(name),
            role=self.role,
            log_group=log_group,
        )
        if spec.traced:
            self._trace()
        if spec.emits:
            grant_put_events(self, self.role, settings.event_bus_name, spec.emits)

    def _trace(self) -> None:
        """Active tracing, its grant kept apart from the role's other statements so the one
        ``Resource: *`` is acknowledged where it is and nowhere else. Lambda checks the role's
        X-Ray rights when the tracing mode is set, so the function waits for the policy."""
        policy = iam.Policy(
            self,
            "Tracing",
            roles=[self.role],
            statements=[iam.PolicyStatement(sid="XRayWrite", actions=list(XRAY_ACTIONS), resources=["*"])],
        )
        acknowledge(policy, "AwsSolutions-IAM5", REASON_XRAY, finding="Resource::*")
        function = self.function.node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        self.function.node.add_dependency(policy)


def deployed_functions(scope: Construct) -> dict[FunctionName, lambda_.IFunction]:
    """Every function built under ``scope``, in the order of the function table: each construct
    builds its own, and this reads them back from the construct tree, so the API, the dashboard and
    the outputs list none of them by hand. Each function of the table must be there exactly once."""
    built = [node for node in scope.node.find_all() if isinstance(node, TokengateFunction)]
    names = sorted(node.name for node in built)
    if names != sorted(FUNCTIONS):
        raise ValueError(f"the stack builds {names}, the function table lists {sorted(FUNCTIONS)}")
    by_name = {node.name: node.function for node in built}
    return {name: by_name[name] for name in FUNCTIONS}
