"""Importing a client whose current token is one its callers already hold (see
``tokengate_core.tokens.imports``): the record keeps the token's digest, the keyring maps the
digest to the client, and the client is otherwise issued like any other.
"""

from __future__ import annotations

from tokengate_core.admin import clients, strength
from tokengate_core.admin.api import ImportClientRequest, ImportedClient
from tokengate_core.admin.context import AdminContext
from tokengate_core.admin.views import record_view
from tokengate_core.errors import AlreadyImportedError, BadRequestError, WeakTokenError
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import iso
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import imports as imported_tokens
from tokengate_core.tokens import keyring


def import_client(ctx: AdminContext, request: ImportClientRequest, actor: str) -> ImportedClient:
    """A client whose current token is ``request.token``: refused if the token is one of this
    deployment's own, already imported, or weak without ``allow_weak``."""
    if ctx.format.owns(request.token):
        raise BadRequestError(
            f"a token with this deployment's prefix ({ctx.format.prefix}) cannot be imported: it is one of"
            " its own (rotate or revoke its client instead)"
        )
    weak = strength.weakness(request.token)
    if weak is not None and not request.allow_weak:
        raise WeakTokenError(f"the token is weak ({weak}): import it with allow_weak to keep it anyway")
    hexdigest = tokens.digest(request.token).hex()
    epoch = ctx.clock()
    if hexdigest in ctx.ring(epoch).imported:
        raise AlreadyImportedError("this token is already imported")
    key_id = tokens.new_key_id()
    tenant = request.tenant
    record = clients.new_record(ctx, tenant, key_id, request, actor=actor, epoch=epoch, imported_sha256=hexdigest)
    view = record_view(record, None, ctx.now())
    clients.create(ctx, record, request, after=lambda: imported_tokens.add_imported(ctx.store, hexdigest, key_id))
    ctx.reset()  # the keyring changed
    ctx.audit("import", tenant=tenant, client_id=key_id, actor=actor, client_name=request.client_name, weak=bool(weak))
    ctx.emit(
        DetailType.ISSUED,
        record,
        actor,
        request.model_fields_set - {"client_name", "tenant", "token", "allow_weak"},
        expires_at=iso(record.expires_at),
        imported=True,
    )
    warnings = [f"the imported token is weak: {weak}; rotate the client soon"] if weak else []
    # Authorizers learn of it with the keyring, which they reload on a timer: looking for a
    # new import on every unknown value would make garbage cost reads.
    notice = (
        f"authorizers accept the imported token once they reload the keyring, within {keyring.REFRESH_SECONDS:.0f} s"
    )
    return ImportedClient(client=view, warnings=warnings, notice=notice)
