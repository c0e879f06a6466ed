"""The deployment's shape, defined once for the CDK stack and the local stack: the function and
route tables (``routes``) and each function's configuration from its environment (``config``).
"""

__all__ = ["config", "routes"]
