"""``tokengate clients ...``: a tenant's clients through the admin API.

One module per kind of command, one registration function per command:

- :mod:`~tokengate.cli.commands.clients.lookup`: a client's API path, the tenant's list page by
  page, and a client name resolved to its id;
- :mod:`~tokengate.cli.commands.clients.settings`: the options that set a client's scopes,
  lifetime and usage policy, and the body fields they make;
- :mod:`~tokengate.cli.commands.clients.read`: ``list``, ``show``, ``usage``;
- :mod:`~tokengate.cli.commands.clients.write`: ``issue``, ``update``, ``revoke``, ``restore``,
  ``rotate``;
- :mod:`~tokengate.cli.commands.clients.imports`: ``import``, a token callers already hold taken
  over as a client.
"""

from __future__ import annotations

from collections.abc import Callable

from tokengate.cli.commands.clients import imports, read, write
from tokengate.cli.options import Parents, Subcommands

#: Each command's registration, in the order ``tokengate clients --help`` lists them.
COMMANDS: tuple[Callable[[Subcommands, Parents], None], ...] = (
    write.register_issue,
    read.register_list,
    read.register_show,
    write.register_update,
    write.register_revoke,
    write.register_restore,
    write.register_rotate,
    read.register_usage,
    imports.register_import,
)

__all__ = ["COMMANDS", "register"]


def register(commands: Subcommands, p: Parents) -> None:
    clients = commands.add_parser(
        "clients", help="issue, list, show, update, revoke, restore, rotate clients; their usage"
    )
    actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")
    for add in COMMANDS:
        add(actions, p)
