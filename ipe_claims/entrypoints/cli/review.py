"""``ipe review``: an agent's ruling when the API is not at hand, through the same ``Reviewer`` the API calls.

The ruling names the agent of an enabled account of role ``agent`` and the agency the accounts table gives
it, as the API's token would; the access log names whoever runs the command (the operating-system user and
the host), as for every read of personal data from the command line.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

import typer
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ipe_claims.adapters import access_log
from ipe_claims.adapters.accounts import enabled_account
from ipe_claims.adapters.declarations import DeclarationsOnConnection
from ipe_claims.adapters.projections import stage_of
from ipe_claims.application.reviewing import ActingAgent, Reviewer
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.review import InvalidReview
from ipe_claims.entrypoints.cli.context import connect, console, fail, instance_settings, print_json, store

app = typer.Typer(help="An agent's review: a ruling on a motif, or force majeure.", no_args_is_help=True)
DECIDED_BY = "ipe review (cli)"
STAGES_FR = {
    "review": "en examen : un agent doit statuer sur le motif",
    "awaiting_declaration": "en attente d'une déclaration",
    "deciding": "en cours de décision",
    "decided": "décidée",
}

Reason = Annotated[
    str, typer.Option("--reason", help="Why (at most 500 characters; shown with the decision).")
]
AgentName = Annotated[str, typer.Option("--agent", help="The username of the agent's account (role agent).")]
Involuntary = Annotated[
    bool | None, typer.Option("--involuntary/--voluntary", help="The loss was involuntary, or not.")
]
AsJson = Annotated[bool, typer.Option("--json", help="The outcome as JSON.")]
Rule = Callable[[Reviewer, ActingAgent], Claim]


@app.command("motif")
def motif(
    claim_id: uuid.UUID,
    reason: Reason,
    agent: AgentName,
    involuntary: Involuntary = None,
    as_json: AsJson = False,
) -> None:
    """Rule on the motif of a claim in review (« Autre », « Accident de travail »); the rules then decide."""
    if involuntary is None:
        raise fail("Say --involuntary or --voluntary.", 2)
    _rule(claim_id, agent, "claim.review", as_json,
          lambda reviewer, acting: reviewer.rule_on_motif(claim_id, involuntary, reason, acting))  # fmt: skip


@app.command("force-majeure")
def force_majeure(claim_id: uuid.UUID, reason: Reason, agent: AgentName, as_json: AsJson = False) -> None:
    """Excuse a claim rejected for late filing: the rules decide it again without the deadline."""
    _rule(claim_id, agent, "claim.force_majeure", as_json,
          lambda reviewer, acting: reviewer.grant_force_majeure(claim_id, reason, acting))  # fmt: skip


def _rule(claim_id: uuid.UUID, agent: str, action: str, as_json: bool, rule: Rule) -> None:
    config = instance_settings()
    with store(config) as claims, connect() as conn:
        account = enabled_account(conn, agent)
        if account is None or account.role != "agent" or not account.agency:
            raise _refused(as_json, "not_an_agent", f"{agent!r} is not an enabled account of role agent")
        reviewer = Reviewer(claims, DeclarationsOnConnection(conn), config.clock(), decided_by=DECIDED_BY)
        try:
            claim = rule(reviewer, ActingAgent(account.username, account.agency))
        except AggregateNotFoundError:
            raise _refused(as_json, "not_found", f"no claim {claim_id}") from None
        except InvalidReview as refused:
            raise _refused(as_json, refused.code, str(refused)) from None
        except IntegrityError:
            raise _refused(as_json, "claim_changed", "the claim kept changing: try again") from None
        access_log.record(conn, access_log.operator(), action, [{"claim_id": claim.id, "affiliation_number":
                          claim.affiliation_number, "immatriculation": claim.immatriculation}])  # fmt: skip
    _show(claim, as_json)


def _refused(as_json: bool, code: str, message: str) -> typer.Exit:
    if as_json:
        print_json({"error": {"code": code, "message": message}})
        return typer.Exit(1)
    return fail(f"Refused ({code}): {message}.")


def _show(claim: Claim, as_json: bool) -> None:
    decision = claim.decision
    outcome: dict[str, Any] = {
        "claim_id": str(claim.id),
        "situation": claim.situation,
        "stage": stage_of(claim),
        "rejection_code": decision.rejection_code if decision else None,
        "rejection_reason_fr": decision.rejection_reason_fr if decision else None,
        "monthly_amount": str(decision.monthly_amount) if decision and decision.monthly_amount else None,
    }
    if as_json:
        print_json(outcome)
        return
    said = f"Demande {claim.id} : {claim.situation} ({STAGES_FR[outcome['stage']]})"
    if outcome["rejection_reason_fr"]:
        said += f". Motif du rejet : {outcome['rejection_reason_fr']}"
    elif outcome["monthly_amount"]:
        said += f". Indemnité mensuelle : {outcome['monthly_amount']} MAD"
    console.print(said + ".", markup=False)
