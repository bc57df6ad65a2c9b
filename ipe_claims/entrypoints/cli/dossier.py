"""``ipe dossier``: an agent's fallback to record a piece of a claim's dossier when the API is not at hand."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from ipe_claims.adapters import access_log
from ipe_claims.adapters.blobs import scan_store
from ipe_claims.application.dossier import RecordDocument, dossier_of
from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.rib import InvalidRib
from ipe_claims.domain.scans import MAX_SCAN_BYTES
from ipe_claims.entrypoints.cli.context import connect, console, fail, instance_settings, store

app = typer.Typer(help="Dossiers: the pieces a claim needs, as an agent records them.", no_args_is_help=True)


@app.command("record")
def record(
    claim_id: uuid.UUID,
    kind: Annotated[str, typer.Argument(help="The piece, e.g. copie_cin, rib (docs/rules.md).")],
    status: Annotated[str, typer.Option(help="received, verified or refused.")],
    agency: Annotated[str, typer.Option(help="The agency (CNSS agence code) the agent works for.")],
    reason: Annotated[str | None, typer.Option(help="Why the piece is refused.")] = None,
    rib: Annotated[str | None, typer.Option(help="The RIB's 24 digits, for the piece rib.")] = None,
    file: Annotated[Path | None, typer.Option(help="The scan: a PDF, JPEG or PNG.")] = None,
) -> None:
    """Record a piece as received, verified or refused; the same checks as the API's."""
    config = instance_settings()
    scan = None
    if file is not None:
        with file.open("rb") as opened:
            scan = opened.read(MAX_SCAN_BYTES + 1)
    with store(config) as claims:
        if claims.find_claim(claim_id) is None:
            raise fail(f"No claim {claim_id}.")
        who = access_log.operator()
        recording = RecordDocument(claims, scan_store(config), config.clock())
        try:
            claim = recording(claim_id, kind, status, agent=f"cli:{who.username}@{who.host}", agency=agency,
                              reason=reason, rib=rib, scan=scan)  # fmt: skip
        except (CodedError, InvalidRib) as error:  # never the RIB's digits in the message
            raise fail(f"Refused ({error.code}): {error}.") from None
        with connect() as conn:
            access_log.record(conn, who, "claim.dossier_record", [{"claim_id": claim.id, "affiliation_number":
                              claim.affiliation_number, "immatriculation": claim.immatriculation}])  # fmt: skip
    state = dossier_of(claim)
    missing = [piece.kind for piece in state.not_verified]
    console.print(f"Recorded {kind} as {status}. " + ("Dossier complete." if state.complete else
                  f"Not verified yet: {', '.join(missing)}."))  # fmt: skip
