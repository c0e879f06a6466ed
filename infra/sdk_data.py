"""The botocore data the functions' asset carries for the authorizer's clients, derived at build time
from the botocore installed here (never written by hand).

Creating the authorizer's two clients on a cold start was mostly botocore parsing data files it
barely uses: DynamoDB's model is 556 KB of JSON, most of it documentation (which only feeds
``help()``), and ``endpoints.json`` is 1.2 MB for every service AWS has. This writes, under the
asset's ``tokengate_core/runtime/sdk_data/`` (:data:`~tokengate_core.runtime.botocore_data.DERIVED_DIR`):

- ``<service>/<api version>/service-2.json`` for each service tokengate calls: botocore's model of
  its latest API version, every operation and shape kept, every ``documentation`` removed;
- ``endpoints.json``: botocore's, every partition kept, each listing only those services.

The authorizer's loader searches that folder before botocore's own (botocore's extra search paths,
as ``AWS_DATA_PATH`` documents them for custom models); whatever is missing there or cannot be read
comes from botocore's own files. Standard library and botocore only: the benchmark's copy of the
asset is derived the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.loaders import Loader

from tokengate_core.runtime.aws import SERVICES
from tokengate_core.runtime.botocore_data import DERIVED_DIR

#: Where, inside an asset (the services/ folder as shipped), the loader looks for the derived data.
ASSET_PATH = Path("tokengate_core", "runtime", Path(DERIVED_DIR).name)


def _without_documentation(model: dict[str, Any]) -> dict[str, Any]:
    """The model minus its ``documentation`` strings: on the service, operations, shapes and members."""
    trimmed = {key: value for key, value in model.items() if key != "documentation"}
    trimmed["operations"] = {
        name: {k: v for k, v in operation.items() if k != "documentation"}
        for name, operation in model["operations"].items()
    }
    shapes = {}
    for name, original in model["shapes"].items():
        shape = {k: v for k, v in original.items() if k != "documentation"}
        if "members" in shape:
            shape["members"] = {
                member: {k: v for k, v in spec.items() if k != "documentation"}
                for member, spec in shape["members"].items()
            }
        shapes[name] = shape
    trimmed["shapes"] = shapes
    return trimmed


def _endpoints_for(endpoints: dict[str, Any], services: tuple[str, ...]) -> dict[str, Any]:
    partitions = [
        {**partition, "services": {k: v for k, v in partition["services"].items() if k in services}}
        for partition in endpoints["partitions"]
    ]
    return {**endpoints, "partitions": partitions}


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True))


def derive(asset: Path, loader: Loader | None = None) -> Path:
    """Write the derived data into ``asset`` (a copy of services/); the folder written."""
    source = loader or Loader(include_default_search_paths=False, extra_search_paths=[Loader.BUILTIN_DATA_PATH])
    target = asset / ASSET_PATH
    for service in SERVICES:
        version = source.determine_latest_version(service, "service-2")
        model = source.load_data(f"{service}/{version}/service-2")  # as the file has it: no SDK extras merged
        _write(target / service / version / "service-2.json", _without_documentation(model))
    _write(target / "endpoints.json", _endpoints_for(source.load_data("endpoints"), SERVICES))
    return target
