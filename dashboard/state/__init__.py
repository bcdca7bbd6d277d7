"""The dashboard's state, in parts (param + aurorax_core only, never Panel).

- ``fields.py``   every query field, declared once (parameter, check, query value, permalink, code)
- ``form.py``     ``QueryForm``: the query inputs, their options from the sources, their errors
- ``job.py``      ``SearchJob``: the running/last search (stages, status, error, notice)
- ``results.py``  ``Results``: the result, its frame, table filters and order, the open product
- ``session.py``  ``DashboardSession``: owns the backend and the parts; runs and cancels searches
- ``labels.py``, ``errors.py``: source names for the form; failures as advice for the page
"""

from .errors import friendly_error
from .fields import EXAMPLE_DAY, FIELD_NAMES, QUERY_FIELDS, QueryField, day_range
from .form import QueryForm, coerce_filter_value
from .job import SearchJob
from .labels import platform_label, program_label
from .results import Results, RowOrder
from .session import DashboardSession

__all__ = [
    "EXAMPLE_DAY",
    "FIELD_NAMES",
    "QUERY_FIELDS",
    "DashboardSession",
    "QueryField",
    "QueryForm",
    "Results",
    "RowOrder",
    "SearchJob",
    "coerce_filter_value",
    "day_range",
    "friendly_error",
    "platform_label",
    "program_label",
]
