"""The deployed topology: Airflow on PostgreSQL, an executor, TorchServe beside it.

`topology` describes the services and their settings once; `compose` renders docker-compose.yaml
from it and `processes` runs the same services as local processes (`soulsgen stack`).
"""

from __future__ import annotations

from soulsgen_lib.errors import SoulsgenError


class StackError(SoulsgenError):
    """The stack cannot start, stop or report: a service, the database or a state file is wrong."""
