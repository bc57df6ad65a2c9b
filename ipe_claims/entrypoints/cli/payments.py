"""``ipe payments``: the monthly payment run that writes the bank file and records each payment issued."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ipe_claims.adapters import access_log
from ipe_claims.adapters.pain001 import Debtor
from ipe_claims.adapters.payment_files import Pain001Files, PostgresPaymentIndex
from ipe_claims.application.paying import PaymentRun
from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.payments import InvalidMonth, parse_month
from ipe_claims.domain.rib import parse_rib
from ipe_claims.entrypoints.cli.context import connect, console, fail, instance_settings, store

app = typer.Typer(help="Payments: the monthly credit-transfer run.", no_args_is_help=True)


def _write(path: Path, content: bytes) -> None:
    """All or nothing: the file appears whole (a temporary file renamed), readable by its owner only."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    os.chmod(partial, 0o600)
    partial.replace(path)


@app.command("run")
def run(
    month: Annotated[str, typer.Option("--month", help="The run's month, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the pain.001 file.")],
) -> None:
    """Issue the month's due payments (and those overdue while a dossier was incomplete) in one pain.001
    file. Run again, it pays nobody twice: with nothing new due it writes the month's file again."""
    try:
        run_month = parse_month(month)
    except InvalidMonth:
        raise fail("The month is written YYYY-MM.", 2) from None
    config = instance_settings()
    account = config.payments
    try:
        debtor = Debtor(account.debtor_name, parse_rib(account.debtor_rib), account.debtor_bic)
    except DomainError:
        raise fail("IPE_PAYMENTS_DEBTOR_RIB is not a valid RIB.", 2) from None
    who = access_log.operator()
    with store(config) as claims, connect() as conn:
        result = PaymentRun(claims, PostgresPaymentIndex(conn), Pain001Files(debtor), config.clock())(
            run_month
        )
        if result.content is None:
            console.print(f"Nothing to pay for {run_month}: no file written.")
            return
        _write(out, result.content)
        # The file names the workers and their accounts: on record, like every read of personal data.
        access_log.record(conn, who, "payments.run", [{"claim_id": t.claim_id} for t in result.transfers])
    total = result.total_centimes
    said = "issued" if result.new else "already issued (the run's file written again)"
    console.print(
        f"{run_month}: {len(result.transfers)} payment(s) {said}, {total // 100}.{total % 100:02d} MAD, "
        f"file {result.file_id} written to {out}."
    )
