"""botocore's data loader, made cheaper for the services tokengate calls.

Creating a client is most of a cold start's first cache miss (about 50 ms), and two thirds of that
is botocore reading its data files, not building the client:

- before loading a service model, botocore lists every service directory it ships (~450) and
  checks each for the model type, once for ``service-2`` and once for ``endpoint-rule-set-1``
  (~17 ms), only to confirm that the requested service exists;
- it parses every file with ``OrderedDict`` pairs, which makes the 1.2 MB ``endpoints.json``
  cost ~19 ms instead of ~7 ms, although a plain ``dict`` keeps insertion order too.

This module changes those two things: the same files from the same search paths
(``AWS_DATA_PATH`` included), and any service outside :data:`SERVICES` (an STS client that a
credential provider creates, say) is found by botocore's own scan. One loader is shared by every
session of the process, so a function with several clients parses each file once.

The authorizer's session (``shared_loader(..., derived=True)``) also searches :data:`DERIVED_DIR`,
after any ``AWS_DATA_PATH`` and before botocore's own folders: there the functions' asset carries
botocore's data reduced to what the authorizer's clients read, the models of :data:`SERVICES`
without their documentation (DynamoDB's is 556 KB, 113 KB without it) and ``endpoints.json`` for
those services only (1.2 MB, 18 KB). The build derives them from the installed botocore
(infra/sdk_data.py); botocore finds them through its extra search paths, the mechanism
``AWS_DATA_PATH`` documents for custom models. Where the folder or a file is missing (the local
stack, tests) or unreadable, botocore's own file is read instead.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from functools import cache
from typing import Any

from botocore.loaders import JSONFileLoader, Loader

from tokengate_core.runtime.aws import SERVICES

#: Where the functions' asset carries the derived data (infra/sdk_data.py writes it at build time).
DERIVED_DIR = os.path.join(os.path.dirname(__file__), "sdk_data")

#: botocore's data file forms, in the order botocore tries them.
_OPENERS: tuple[tuple[str, Callable[..., Any]], ...] = ((".json", open), (".json.gz", gzip.open))


class PlainJSONFileLoader(JSONFileLoader):
    """botocore's JSON file loader, parsing into plain dicts: same data, same key order."""

    def load_file(self, file_path: str) -> Any:
        """The file's data, or None when it is absent or unreadable: botocore's loader then reads
        the same file from the next search path (for a derived file, botocore's own)."""
        for extension, opener in _OPENERS:
            path = file_path + extension
            if os.path.isfile(path):
                try:
                    with opener(path, "rb") as stream:
                        return json.loads(stream.read())
                except (OSError, ValueError):
                    return None
        return None


class _KnownServices(list[str]):
    """The answer to "which services exist": tokengate's own without a scan, any other by botocore's
    scan, run only when such a name is asked about."""

    def __init__(self, scan: Callable[[], list[str]]) -> None:
        super().__init__(SERVICES)
        self._scan = scan

    def __contains__(self, name: object) -> bool:
        return list.__contains__(self, name) or name in self._scan()


class ServiceDataLoader(Loader):
    FILE_LOADER_CLASS = PlainJSONFileLoader

    def list_available_services(self, type_name: str) -> list[str]:
        return _KnownServices(lambda: super(ServiceDataLoader, self).list_available_services(type_name))


def shared_loader(data_path: str | None, derived: bool = False) -> ServiceDataLoader:
    """One loader per ``AWS_DATA_PATH`` value, as botocore's ``create_loader`` reads it; with
    ``derived``, :data:`DERIVED_DIR` (if the asset has it) is searched after those paths and
    before botocore's own."""
    return _loader(data_path or "", derived and os.path.isdir(DERIVED_DIR))


@cache
def _loader(data_path: str, derived: bool) -> ServiceDataLoader:
    extra = [os.path.expanduser(os.path.expandvars(path)) for path in data_path.split(os.pathsep) if path]
    if derived:
        extra.append(DERIVED_DIR)
    return ServiceDataLoader(extra_search_paths=extra) if extra else ServiceDataLoader()
