"""The bank file of a payment run: an ISO 20022 customer credit transfer initiation, pain.001.001.09.

One group header (message id, creation time, number of transactions, control sum), one payment
information block debiting the fund's account, one credit transfer per payment. Everything is derived from
the inputs, so the same run gives the same bytes: the creation time is passed in, transfers are sorted,
and the ids come from the claim and the month (EndToEndId) or from the file's content (MsgId), so a bank
that sees a file twice can tell, and a run that differs gets a new message id.

A Moroccan RIB is not an IBAN (we found Morocco in no official IBAN registry), so accounts are given as
``Othr/Id`` = the 24 digits with the proprietary scheme name "RIB". Amounts are MAD with 2 decimals.
"""

from __future__ import annotations

import hashlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from ipe_claims.domain.payments import parse_month
from ipe_claims.domain.rib import Rib

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
CURRENCY = "MAD"
MAX_NAME = 140
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Debtor:
    """The fund's account the benefits are paid from, and its bank."""

    name: str
    rib: Rib
    bic: str


@dataclass(frozen=True)
class Transfer:
    """One monthly payment of one claim to the worker's account."""

    claim_id: uuid.UUID
    month: str  # YYYY-MM
    amount_centimes: int
    creditor_name: str
    creditor_rib: Rib


def end_to_end_id(claim_id: uuid.UUID, month: str) -> str:
    """ "IPE", the month, and the whole claim id in 25 base-36 digits (34 characters of the field's 35):
    the same payment always gets the same id, whichever run issues it, and two payments never share one."""
    number, digits = claim_id.int, []
    for _ in range(25):  # 36**25 > 2**128
        number, digit = divmod(number, 36)
        digits.append(_BASE36[digit])
    return f"IPE{parse_month(month).replace('-', '')}{''.join(reversed(digits))}"


def _amount(centimes: int) -> str:
    return f"{centimes // 100}.{centimes % 100:02d}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _account(parent: ET.Element, tag: str, rib: Rib) -> None:
    other = _sub(_sub(_sub(parent, tag), "Id"), "Othr")
    _sub(other, "Id", str(rib))
    _sub(_sub(other, "SchmeNm"), "Prtry", "RIB")


def _checked(transfers: Iterable[Transfer]) -> list[tuple[str, Transfer]]:
    keyed = sorted(((end_to_end_id(t.claim_id, t.month), t) for t in transfers), key=lambda pair: pair[0])
    if not keyed:
        raise ValueError("a credit transfer file holds at least one payment")
    ids = [key for key, _ in keyed]
    if len(set(ids)) != len(ids):
        raise ValueError("the same claim and month appear twice: a file pays nobody twice")
    for _, transfer in keyed:
        if transfer.amount_centimes <= 0:
            raise ValueError("a payment's amount is positive")
        if not transfer.creditor_name.strip():
            raise ValueError("a payment names its creditor")
    return keyed


def message_id(run_month: str, transfers: Iterable[Transfer]) -> str:
    """The MsgId of the run's file: the run's month and a digest of its content (what a payment run
    records as each payment's ``file_id`` before it writes the file)."""
    return _message_id(run_month, _checked(transfers))


def _message_id(run_month: str, keyed: list[tuple[str, Transfer]]) -> str:
    content = "\n".join(f"{key}|{t.amount_centimes}|{t.creditor_rib}" for key, t in keyed)
    digest = hashlib.sha256(f"{run_month}\n{content}".encode()).hexdigest()[:16]
    return f"IPE-{parse_month(run_month).replace('-', '')}-{digest}"


def credit_transfer_file(
    debtor: Debtor,
    transfers: Iterable[Transfer],
    *,
    run_month: str,
    created_at: datetime,
    execution_date: date,
) -> bytes:
    """The pain.001 XML (UTF-8) of a run; raises ValueError on a file no bank should receive."""
    if created_at.tzinfo is None:
        raise ValueError("the creation time is timezone-aware")
    keyed = _checked(transfers)
    total = sum(transfer.amount_centimes for _, transfer in keyed)
    message_id = _message_id(run_month, keyed)

    # Unqualified tags under a default namespace declared once: ElementTree's default_namespace option
    # refuses the unqualified Ccy attribute the schema requires.
    document = ET.Element("Document", xmlns=NAMESPACE)
    initiation = _sub(document, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created_at.isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", str(len(keyed)))
    _sub(header, "CtrlSum", _amount(total))
    _sub(_sub(header, "InitgPty"), "Nm", debtor.name[:MAX_NAME])

    payment = _sub(initiation, "PmtInf")
    _sub(payment, "PmtInfId", f"{message_id}-1")
    _sub(payment, "PmtMtd", "TRF")
    _sub(payment, "NbOfTxs", str(len(keyed)))
    _sub(payment, "CtrlSum", _amount(total))
    _sub(_sub(payment, "ReqdExctnDt"), "Dt", execution_date.isoformat())
    _sub(_sub(payment, "Dbtr"), "Nm", debtor.name[:MAX_NAME])
    _account(payment, "DbtrAcct", debtor.rib)
    _sub(_sub(_sub(payment, "DbtrAgt"), "FinInstnId"), "BICFI", debtor.bic)

    for key, transfer in keyed:
        transaction = _sub(payment, "CdtTrfTxInf")
        identification = _sub(transaction, "PmtId")
        _sub(identification, "InstrId", key)
        _sub(identification, "EndToEndId", key)
        _sub(_sub(transaction, "Amt"), "InstdAmt", _amount(transfer.amount_centimes), Ccy=CURRENCY)
        _sub(_sub(transaction, "Cdtr"), "Nm", transfer.creditor_name.strip()[:MAX_NAME])
        _account(transaction, "CdtrAcct", transfer.creditor_rib)
        _sub(_sub(transaction, "RmtInf"), "Ustrd", f"IPE {transfer.month} indemnite pour perte d'emploi")

    ET.indent(document)
    data: bytes = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
