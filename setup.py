"""Which files the wheel carries (the rest of the metadata is in pyproject.toml).

The local stack runs the Lambda handlers of services/, and the CLI reads infra's CDK-free modules
(outputs, settings, tenant policy); in the repository each is an import root of its own. The wheel
carries both inside the package, as ``tokengate/_bundle/services`` and ``tokengate/_bundle/infra``,
so an installed tokengate has them without putting top-level packages named ``main``, ``admin``
or ``infra`` into site-packages. ``tokengate.SOURCE_ROOT`` finds them there.
"""

from setuptools import find_packages, setup

BUNDLE = "tokengate._bundle"
SERVICES = find_packages("services")  # tokengate_core and the handlers
INFRA = ["infra", *(f"infra.{p}" for p in find_packages("infra"))]

setup(
    packages=[
        *find_packages(include=["tokengate", "tokengate.*"]),
        *(f"{BUNDLE}.services.{p}" for p in SERVICES),
        *(f"{BUNDLE}.{p}" for p in INFRA),
    ],
    package_dir={
        **{f"{BUNDLE}.services.{p}": "services/" + p.replace(".", "/") for p in SERVICES},
        **{f"{BUNDLE}.{p}": p.replace(".", "/") for p in INFRA},
    },
    package_data={
        "tokengate.capacity": ["*.md.in"],
        # The console's page and its vendored libraries (with their licenses and VENDOR.json).
        "tokengate.console": ["static/*.html", "static/*.js", "static/*.css", "static/vendor/*"],
    },
)
