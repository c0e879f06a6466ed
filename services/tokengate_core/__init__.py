"""tokengate's shared domain: token format, client records, the Secrets Manager store, caching.

Every Lambda function imports this package from its asset root, so the token parser, the
record model and the store exist exactly once.
"""
