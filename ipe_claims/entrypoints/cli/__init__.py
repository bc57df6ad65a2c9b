"""The ``ipe`` command: one Typer app per area, each registered here the one way, ``add_typer``.

A group (``ipe accounts …``) is added under its name; an area of top-level commands (``ipe up``) without one,
which puts its commands at the root. Areas import ``context`` and the layers below, never this package or
each other (tests/unit/test_cli_package.py).
"""

from __future__ import annotations

import typer

from ipe_claims.entrypoints.cli import (
    accounts,
    affiliations,
    audit,
    backup,
    claims,
    contacts,
    declarations,
    dossier,
    ops,
    parked,
    payments,
    portals,
    relay,
    replay,
    report,
    review,
    simulate,
)

app = typer.Typer(help="ipe-claims: the CNSS job-loss benefit (IPE) claims service.", no_args_is_help=True)
for commands in (ops, backup, replay, report, simulate):
    app.add_typer(commands.app)
for name, group in {
    "accounts": accounts,
    "declarations": declarations,
    "affiliations": affiliations,
    "contacts": contacts,
    "claims": claims,
    "dossier": dossier,
    "audit": audit,
    "parked": parked,
    "payments": payments,
    "portals": portals,
    "relay": relay,
    "review": review,
}.items():
    app.add_typer(group.app, name=name)


def main() -> None:
    """Run ``ipe`` (the console script and ``python -m ipe_claims.entrypoints.cli``)."""
    app()
