"""What schemathesis needs to know that an OpenAPI document cannot say, for the test and for the CLI run
against the demo (docs/api.md): ``SCHEMATHESIS_HOOKS=tests.schemathesis_hooks st run …``.

JSON Schema has no date range: ``format: date`` admits 9999-12-31, while the intake refuses a job loss in
the future or before the IPE began (loi n° 03-14) with a 422 that names the rule. So the dates generated as
valid are those of the system's calendar, from the scheme's first day to the system's today.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from ipe_claims.domain.rules import SCHEME_START
from ipe_claims.settings import Settings

TODAY = Settings.from_env().clock().today()  # the harness's day under pytest (IPE_CLOCK_SHIFT_DAYS)

CALENDAR = st.dates(min_value=SCHEME_START, max_value=TODAY).map(lambda day: day.isoformat())
schemathesis.openapi.format("date", CALENDAR)
