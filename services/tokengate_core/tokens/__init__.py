"""What a token is: its format (prefix, key id, nonce, tag, checksum) in ``format``, the
deployment's signing keys that tag it in ``keyring``, and tokens imported from elsewhere (known
only by their digest) in ``imports``. The authorizer uses ``format`` and ``keyring`` on its cold
path, so neither imports pydantic or botocore.
"""

__all__ = ["format", "imports", "keyring"]
