"""One module per command group; each has ``register(commands, parents)`` (see :mod:`tokengate.cli`)."""
