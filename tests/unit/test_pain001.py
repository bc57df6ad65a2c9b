"""The payment run's bank file: valid against the ISO 20022 pain.001.001.09 schema, header totals that
match its transactions, and the same bytes for the same run."""

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from importlib.resources import files

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from ipe_claims.adapters.pain001 import NAMESPACE, Debtor, Transfer, credit_transfer_file, end_to_end_id
from ipe_claims.domain.rib import parse_rib, rib_key

NS = {"p": NAMESPACE}
CREATED = datetime(2026, 12, 1, 8, 30, tzinfo=timezone(timedelta(hours=1)))
DEBTOR = Debtor("Caisse Nationale de Sécurité Sociale", parse_rib("230570000000000000000105"), "CIHMMAMC")
WORKER_RIB = parse_rib("007780000123456789012396")
CLAIMS = [uuid.UUID(int=n) for n in (3, 1, 2)]


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    """The official schema as shipped by the sepaxml package (ISO 20022 Standards Editor output)."""
    return xmlschema.XMLSchema(str(files("sepaxml") / "schemas" / "pain.001.001.09.xsd"))


def transfers(claims: list[uuid.UUID] = CLAIMS) -> list[Transfer]:
    return [
        Transfer(claim, "2026-12", 297005 + n, "Nom Prénom", WORKER_RIB) for n, claim in enumerate(claims)
    ]


def a_file(items: list[Transfer] | None = None, created: datetime = CREATED) -> bytes:
    return credit_transfer_file(
        DEBTOR,
        transfers() if items is None else items,
        run_month="2026-12",
        created_at=created,
        execution_date=date(2026, 12, 5),
    )


def test_the_file_is_valid_against_the_official_schema(schema: xmlschema.XMLSchema) -> None:
    schema.validate(a_file())


def test_the_validator_does_catch_an_invalid_file(schema: xmlschema.XMLSchema) -> None:
    broken = a_file().replace(b'Ccy="MAD"', b'Ccy="dirham"', 1)
    assert not schema.is_valid(broken)
    no_count = a_file().replace(b"<NbOfTxs>3</NbOfTxs>", b"", 1)
    assert not schema.is_valid(no_count)


def test_header_count_and_control_sum_match_the_transactions() -> None:
    root = ET.fromstring(a_file())
    amounts = [Decimal(a.text or "") for a in root.iterfind(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)]
    assert amounts == [Decimal("2970.06"), Decimal("2970.07"), Decimal("2970.05")]  # sorted by EndToEndId
    for block in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
        assert root.findtext(f"{block}/p:NbOfTxs", namespaces=NS) == "3"
        assert root.findtext(f"{block}/p:CtrlSum", namespaces=NS) == "8910.18" == str(sum(amounts))
    assert root.findtext(".//p:GrpHdr/p:CreDtTm", namespaces=NS) == "2026-12-01T08:30:00+01:00"
    assert {a.get("Ccy") for a in root.iterfind(".//p:InstdAmt", NS)} == {"MAD"}


def test_accounts_are_the_24_digit_ribs_under_othr() -> None:
    root = ET.fromstring(a_file())
    assert root.findtext(".//p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "230570000000000000000105"
    creditors = {e.text for e in root.iterfind(".//p:CdtrAcct/p:Id/p:Othr/p:Id", NS)}
    assert creditors == {"007780000123456789012396"}
    assert root.find(".//p:IBAN", NS) is None


def test_end_to_end_ids_derive_from_claim_and_month() -> None:
    claim = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    assert end_to_end_id(claim, "2026-12") == "IPE2026120W7XTFJF8034JL7E0ECVDAO6O"
    assert int(end_to_end_id(claim, "2026-12")[9:], 36) == claim.int  # the whole id, recoverable
    assert end_to_end_id(uuid.UUID(int=2**128 - 1), "2026-12") == "IPE202612F5LXX1ZZ5PNORYNQGLHZMSP33"
    assert end_to_end_id(claim, "2027-01") != end_to_end_id(claim, "2026-12")
    ids = [e.text for e in ET.fromstring(a_file()).iterfind(".//p:EndToEndId", NS)]
    assert ids == sorted(end_to_end_id(c, "2026-12") for c in CLAIMS)


@given(st.uuids(), st.uuids())
def test_end_to_end_ids_fit_the_field_and_never_collide(a: uuid.UUID, b: uuid.UUID) -> None:
    assert len(end_to_end_id(a, "2026-12")) == 34
    assert (end_to_end_id(a, "2026-12") == end_to_end_id(b, "2026-12")) == (a == b)


def test_the_same_run_gives_the_same_bytes_whatever_the_order() -> None:
    assert a_file() == a_file(list(reversed(transfers())))


def test_a_different_content_gets_a_different_message_id() -> None:
    def message_id(data: bytes) -> str | None:
        return ET.fromstring(data).findtext(".//p:GrpHdr/p:MsgId", namespaces=NS)

    assert message_id(a_file()) == message_id(a_file(created=CREATED + timedelta(hours=1)))
    assert message_id(a_file()) != message_id(a_file(transfers()[:2]))


@pytest.mark.parametrize(
    ("items", "created"),
    [
        ([], CREATED),
        (transfers() + transfers()[:1], CREATED),
        ([Transfer(CLAIMS[0], "2026-12", 0, "Nom", WORKER_RIB)], CREATED),
        ([Transfer(CLAIMS[0], "2026-12", 100, "  ", WORKER_RIB)], CREATED),
        (transfers(), datetime(2026, 12, 1, 8, 30)),
    ],
)
def test_files_no_bank_should_receive_are_refused(items: list[Transfer], created: datetime) -> None:
    with pytest.raises(ValueError):
        a_file(items, created)


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=200
).filter(str.strip)
payments = st.lists(
    st.tuples(st.uuids(), st.sampled_from(["2026-11", "2026-12"]), st.integers(1, 10**9), names),
    min_size=1,
    max_size=20,
    unique_by=lambda p: (p[0], p[1]),
)


@settings(max_examples=40, deadline=None)
@given(payments, st.text(alphabet="0123456789", min_size=22, max_size=22))
def test_any_run_is_schema_valid_and_its_totals_add_up(
    schema: xmlschema.XMLSchema, items: list[tuple[uuid.UUID, str, int, str]], digits: str
) -> None:
    rib = parse_rib(digits + rib_key(digits))
    data = a_file(
        [Transfer(claim, month, cents, name, rib) for claim, month, cents, name in items],
        CREATED.astimezone(UTC),
    )
    schema.validate(data)
    root = ET.fromstring(data)
    assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == str(len(items))
    total = Decimal(sum(cents for _, _, cents, _ in items)) / 100
    assert Decimal(root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) or "") == total
