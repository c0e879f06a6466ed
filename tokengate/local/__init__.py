"""The local stack: the Lambda handlers from services/ behind an emulated HTTP API stage.

services/ is the Lambda asset root; it goes on sys.path here, before any submodule imports
tokengate_core, exactly as Lambda puts the asset root on the path.
"""

from __future__ import annotations

from tokengate import use_services_path

use_services_path()
