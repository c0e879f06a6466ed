"""The deployment's shape, defined once for the CDK stack and the local stack: the function table
(``functions``: handlers, memory, timeouts, the events each may publish), the route table
(``routes``: the API's routes, the authorizer's identity sources, the admin routes) and each
function's configuration from its environment (``config``).
"""

__all__ = ["config", "functions", "routes"]
