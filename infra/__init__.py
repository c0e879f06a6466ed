"""tokengate's AWS CDK app: one stack, built from the same function and route table as the local stack.

Read it top to bottom in this order: settings.py (the knobs, from CDK context), stack.py (how the
pieces fit), then one construct per concern: observability.py, functions.py, keyring.py,
table.py, rotation.py, authorizer.py, delivery.py, admin.py, api.py, monitoring.py. nag.py holds
every cdk-nag acknowledgement with its reason.
"""

import os

from tokengate import SERVICES_DIR, use_services_path

# jsii (the bridge to aws-cdk-lib's JavaScript) prints a full-screen end-of-life banner on Node 20,
# the Node this project's toolchain ships with, on every synth. It must be set before the first
# aws_cdk import starts the Node process; an explicit value in the environment wins.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# The stack reads the function/route table and the settings models from the Lambda asset itself
# (services/tokengate_core), so the deployed names can never drift from the code that reads them.
use_services_path()

__all__ = ["SERVICES_DIR"]
