"""``ipe claims``: what a caseworker records on a claim from the command line."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import typer

from ipe_claims.adapters import access_log
from ipe_claims.application.claims import ClaimKeptChanging
from ipe_claims.application.returning import RecordReturnToWork
from ipe_claims.domain.lifecycle import InvalidReturnToWork
from ipe_claims.entrypoints.cli.context import connect, console, fail, instance_settings, store

app = typer.Typer(help="Claims: record what happens after the decision.", no_args_is_help=True)


@app.command("return-to-work")
def return_to_work(
    claim_id: uuid.UUID,
    return_date: Annotated[str, typer.Option("--date", help="The day the insured starts working again.")],
    declared_on: Annotated[str | None, typer.Option(help="When it was declared (default: today).")] = None,
) -> None:
    """Record a reprise d'activité: the benefit ends the day before the return."""
    try:
        returned = date.fromisoformat(return_date)
        given = date.fromisoformat(declared_on) if declared_on else None
    except ValueError:
        raise fail("Dates are YYYY-MM-DD.", 2) from None
    config = instance_settings()
    with store(config) as claims:
        if claims.find_claim(claim_id) is None:
            raise fail(f"No claim {claim_id}.")
        who = access_log.operator()
        record = RecordReturnToWork(claims, config.clock())
        try:
            claim = record(claim_id, returned, f"cli:{who.username}@{who.host}", declared_on=given)
        except (InvalidReturnToWork, ClaimKeptChanging) as exc:
            raise fail(f"Refused: {exc}.") from None
        with connect() as conn:  # its figures follow: on record
            access_log.record(conn, who, "claim.return_to_work", [{"claim_id": claim.id, "affiliation_number":
                              claim.affiliation_number, "immatriculation": claim.immatriculation}])  # fmt: skip
    if (ended := claim.returned) is None:  # the service returns the claim with its return
        raise fail(f"No return to work recorded on claim {claim_id}.")
    late = " (declared late)" if ended.late_notice else ""
    console.print(f"Recorded: benefit ends {ended.benefit_end}, {ended.months_due} month(s) due{late}.")
