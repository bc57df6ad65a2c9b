"""What a claim keeps of its life after filing: its decisions, an agent's rulings, the dossier's pieces and
its payments, and the checks its commands share.

These are records, not rules: a replay rebuilds them from the events without checking them again, so a
stricter rule later never stops an old stream from loading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from ipe_claims.domain.dossier import DocumentRecord
from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.rib import RIB_LENGTH, Rib
from ipe_claims.domain.rules import Decision

AGENT_REQUIRED = "agent_required"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class AgentRequired(CodedError):
    """An agent's action names the agent and the agency: every one is in the claim's history."""


@dataclass(frozen=True)
class DecisionRecord:
    """One decision in the claim's stream. The first stays readable when a force-majeure plea or an
    expired dossier decides the claim again."""

    decision: Decision
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True)
class AgentRuling:
    """Who ruled, for which agency, when and why; ``involuntary`` only for a ruling on the motif."""

    reason: str
    agent: str
    agency: str
    ruled_at: datetime
    involuntary: bool | None = None


@dataclass(frozen=True)
class RecordedDocument:
    """A piece of the dossier as an agent recorded it, with the SHA-256 of its scan when one was uploaded."""

    record: DocumentRecord
    sha256: str | None
    agent: str
    agency: str
    recorded_at: datetime


@dataclass(frozen=True)
class PaymentLine:
    """One monthly payment: ``scheduled``, ``issued`` (in the bank file ``file_id``) or ``cancelled``."""

    month: str
    amount_centimes: int
    status: str
    file_id: str | None = None
    issued_on: date | None = None
    issued_at: datetime | None = None  # the instant: two files of one month may be issued on one day


def check_agent(agent: str, agency: str) -> None:
    if not agent.strip() or not agency.strip():
        raise AgentRequired(AGENT_REQUIRED, "an agent's action names the agent and the agency")


def is_scan_digest(sha256: str) -> bool:
    """A scan is named by the lowercase hex SHA-256 of its bytes (the blob store's key)."""
    return _SHA256.fullmatch(sha256) is not None


def rib_of(digits: str) -> Rib:
    """The RIB of 24 digits already checked when recorded (replay does not check them again)."""
    if len(digits) != RIB_LENGTH:
        raise ValueError("a recorded RIB has 24 digits")
    return Rib(digits[:3], digits[3:6], digits[6:22], digits[22:])
