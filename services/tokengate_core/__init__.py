"""tokengate's shared domain, one folder per domain; every Lambda function imports it from its
asset root, so each fact (the token format, the record rules, the route table) exists once.

- ``tokens/``: what a token is: its format, the signing keyring, tokens imported from elsewhere.
- ``records/``: what a client is: the record's rules and model, the authorizer's reading of it,
  the Secrets Manager store and the name registry.
- ``authorize/``: the authorizer's decision, its cache, its settings and usage control.
- ``admin/``: the admin API: request bodies, the use cases behind each route.
- ``lifecycle/``: what happens to a client over time: events, rotation, the sweep, delivery,
  leak response.
- ``deployment/``: the function and route tables and each function's configuration.
- ``runtime/``: AWS clients, botocore's data loader, logging, metrics and tracing.
- ``errors``: every domain and API error, with its stable code.

Subpackage ``__init__`` files import nothing, so a function pays only for the modules it uses.
"""

__all__ = ["admin", "authorize", "deployment", "errors", "lifecycle", "records", "runtime", "tokens"]
