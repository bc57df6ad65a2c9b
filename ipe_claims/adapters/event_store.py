"""The event store of a process: the eventsourcing application on the Postgres that ``settings`` names."""

from __future__ import annotations

from ipe_claims.application.claims import ClaimsApplication
from ipe_claims.settings import Settings


def make_app(settings: Settings, create_tables: bool = False) -> ClaimsApplication:
    """The event store; ``create_tables`` creates its tables (once, before the services start) and hands
    their vacuum to the operator (``ClaimsApplication.keep_autovacuum_away``)."""
    app = ClaimsApplication(env=settings.eventsourcing_env(create_tables))
    if create_tables:
        app.keep_autovacuum_away()
    return app
