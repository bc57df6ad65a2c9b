"""After the storm: wait for the system to settle, then count what the store, read models and delivery
log hold against what the load was promised (HTTP 201s), and say what, if anything, went wrong."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing.utils import get_topic

from ipe_claims.domain.claim import Claim

if TYPE_CHECKING:
    from tests.chaos.scenario import Faults, Load, Plan
    from tests.chaos.system import ChaosSystem

SUBMITTED, DECIDED = get_topic(Claim.Submitted), get_topic(Claim.Decided)


@dataclass
class Tally:
    rows: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pauses: list[str] = field(default_factory=list)  # the pause table (tests/chaos/pauses.py)

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        width = max(len(name) for name, _ in self.rows)
        lines = ["chaos run", "-" * (width + 12)]
        lines += [f"{name:<{width}}  {value:>9}" for name, value in self.rows]
        lines.append("-" * (width + 12))
        lines += [f"note: {note}" for note in self.notes]
        lines += ["", *self.pauses, ""] if self.pauses else []
        lines += [f"PROBLEM: {problem}" for problem in self.problems] or [
            "verdict: nothing lost, nothing duplicated"
        ]
        return "\n".join(lines)


def _counts(conn: psycopg.Connection[Any], ids: list[str]) -> dict[str, int]:
    one = lambda sql, *args: int(conn.execute(sql, (ids, *args)).fetchone()[0])  # noqa: E731
    return {
        "store_claims": one("SELECT count(DISTINCT originator_id) FROM ipe_events WHERE originator_id = ANY(%s::uuid[]) AND topic = %s", SUBMITTED),
        "store_submitted_events": one("SELECT count(*) FROM ipe_events WHERE originator_id = ANY(%s::uuid[]) AND topic = %s", SUBMITTED),
        "store_decided": one("SELECT count(DISTINCT originator_id) FROM ipe_events WHERE originator_id = ANY(%s::uuid[]) AND topic = %s", DECIDED),
        "store_decided_events": one("SELECT count(*) FROM ipe_events WHERE originator_id = ANY(%s::uuid[]) AND topic = %s", DECIDED),
        "read_model_decided": one("SELECT count(*) FROM claims WHERE claim_id = ANY(%s::uuid[]) AND situation <> 'En cours'"),
        "deposited": one("SELECT count(DISTINCT claim_id) FROM notifications WHERE claim_id = ANY(%s::uuid[]) AND kind = 'deposited'"),
        "decision_notified": one("SELECT count(DISTINCT claim_id) FROM notifications WHERE claim_id = ANY(%s::uuid[]) AND kind IN ('valid', 'rejected')"),
        "notification_rows": one("SELECT count(*) FROM notifications WHERE claim_id = ANY(%s::uuid[]) AND kind IN ('deposited', 'valid', 'rejected')"),
    }  # fmt: skip


def _settled(counts: dict[str, int], accepted: int) -> bool:
    wanted = ("store_claims", "store_decided", "read_model_decided", "deposited", "decision_notified")
    return all(counts[name] >= accepted for name in wanted)


def _recovered(system: ChaosSystem, faults: Faults) -> bool:
    """After a broker that came back empty, the relay has re-published the store to the new log and the
    consumers have started over on it: a restart late in the load finds everything else settled already,
    and this is the part of the recovery that takes the longest (the relay checks its topic every 5 s)."""
    if not faults.done["restart broker"]:
        return True
    return system.log_count('"relay.republish"') >= 1 and system.log_count('"consumer.log_replaced"') >= 1


def _ingress_committed(conn: psycopg.Connection[Any], load: Load, deadline: float) -> list[str]:
    """The published submissions that reached the store, once the ingress stops making progress."""
    published = sorted(set(load.published.values()))
    found, last_change, rows = -1, time.monotonic(), []
    while time.monotonic() < deadline:
        rows = conn.execute("SELECT DISTINCT originator_id::text FROM ipe_events WHERE originator_id = ANY(%s::uuid[]) "
                            "AND topic = %s", (published, SUBMITTED)).fetchall()  # fmt: skip
        if len(rows) != found:
            found, last_change = len(rows), time.monotonic()
        if found == len(published) or time.monotonic() - last_change > 30:
            break
        time.sleep(1.0)
    return [row[0] for row in rows]


def tally(system: ChaosSystem, load: Load, faults: Faults, plan: Plan, deadline: float) -> Tally:
    result = Tally()
    settle_started = time.monotonic()
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        committed = _ingress_committed(conn, load, deadline)
        ids = sorted(set(load.accepted.values()) | set(committed))
        counts = _counts(conn, ids)
        while not (_settled(counts, len(ids)) and _recovered(system, faults)) and time.monotonic() < deadline:
            time.sleep(1.0)
            counts = _counts(conn, ids)
        others = int(conn.execute(
            "SELECT count(*) FROM claims WHERE claim_id <> ALL(%s::uuid[]) AND affiliation_number IN "
            "(SELECT affiliation_number FROM account_affiliations WHERE username = 'chaos-employer')", (ids,)
        ).fetchone()[0])  # fmt: skip
        dead = int(conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
    state = system.status()
    verify = system.ipe("replay", "--verify")  # the read models equal a rebuild from the log
    replay_clean = verify.returncode == 0
    if not replay_clean:
        result.problems.append("ipe replay --verify: " + (verify.stdout + verify.stderr).strip()[-800:])
    result.notes.append(f"settled {time.monotonic() - settle_started:.0f}s after the load")
    result.notes.append(
        "retries by the load: " + (", ".join(f"{k} x{v}" for k, v in sorted(load.retries.items())) or "none")
    )
    lost = len(set(load.published.values())) - len(committed)
    logs = "".join(path.read_text(errors="replace") for path in (system.home / "logs").glob("*.log"))
    leaked = sorted(secret for secret in load.secrets if secret in logs)
    if leaked:
        result.problems.append(f"the logs hold {len(leaked)} names, CIN or salaries")
    result.notes.append(f"ingress messages lost with the broker before the ingress read them: {lost} "
                        "(the upstream's loss: a replicated Kafka keeps them; portals re-send by submission_id)")  # fmt: skip
    restarts = {name: s["restarts"] for name, s in state["services"].items()}
    result.rows = [
        ("claims submitted (distinct keys)", str(plan.claims)),
        ("accepted over HTTP (201)", str(len(load.accepted))),
        ("ingress messages acknowledged by the broker", str(len(load.published))),
        ("ingress messages committed to the store", str(len(committed))),
        ("ingress messages lost with the broker", str(lost)),
        ("submissions accepted (201 + ingress committed)", str(len(ids))),
        ("refused (4xx, none expected)", str(sum(load.refused.values()))),
        ("claims in the store", str(counts["store_claims"])),
        ("claims decided (store)", str(counts["store_decided"])),
        ("claims decided (read model)", str(counts["read_model_decided"])),
        ("deposit notifications", str(counts["deposited"])),
        ("decision notifications", str(counts["decision_notified"])),
        ("duplicate submitted events", str(counts["store_submitted_events"] - counts["store_claims"])),
        ("duplicate decisions", str(counts["store_decided_events"] - counts["store_decided"])),
        ("duplicate notification rows", str(counts["notification_rows"] - counts["deposited"] - counts["decision_notified"])),
        ("claims nobody was told of (extra)", str(others)),
        ("dead letters", str(dead)),
        ("ipe replay --verify", "clean" if replay_clean else "DIFFERS"),
        ("names, CIN, salaries in the logs", str(len(leaked))),
        *[(f"fault: {name}", str(n)) for name, n in sorted(faults.done.items())],
        *[(f"restarts seen: {name}", str(n)) for name, n in sorted(restarts.items())],
        ("restarts seen: broker", str(state["broker"]["restarts"])),
        ("restarts seen: postgres", str(state["postgres"]["restarts"])),
        ("relay re-publications from the store", str(system.log_count('"relay.republish"'))),
        ("consumer partitions started over", str(system.log_count('"consumer.log_replaced"'))),
        ("consumer members started over after a stall", str(system.log_count('"consumer.stalled"'))),
    ]  # fmt: skip
    if plan.broker == "apache":
        result.rows += _replicated(system, result, lost)
    accepted = len(ids)
    for name in ("store_claims", "store_decided", "read_model_decided", "deposited", "decision_notified"):
        if counts[name] != accepted:
            result.problems.append(f"{name} = {counts[name]}, accepted = {accepted}")
    if len(load.accepted) + len(load.published) != plan.claims:
        result.problems.append(
            f"only {len(load.accepted) + len(load.published)} of {plan.claims} submissions went through"
        )
    if load.refused:
        result.problems.append(f"refusals: {dict(load.refused)}")
    for name, extra in (("submitted", "store_submitted_events"), ("decided", "store_decided_events")):
        if counts[extra] != counts[f"store_{'claims' if name == 'submitted' else 'decided'}"]:
            result.problems.append(f"duplicate {name} events in the store")
    if counts["notification_rows"] != counts["deposited"] + counts["decision_notified"]:
        result.problems.append("duplicate notification rows (the delivery log is keyed by event id)")
    if others:
        result.problems.append(f"{others} claims exist that no 201 announced")
    if dead:
        result.problems.append(f"{dead} dead letters")
    # Whoever fell short: what its threads are doing (code locations only), for the failure's report.
    behind = {"ingress": bool(lost and plan.broker == "apache"),
              "projector": counts["store_decided"] != accepted or counts["read_model_decided"] != accepted,
              "notifier": counts["deposited"] != accepted or counts["decision_notified"] != accepted}  # fmt: skip
    result.problems += [_stacks(system, name) for name, short in behind.items() if short]
    return result


def _stacks(system: ChaosSystem, name: str) -> str:
    try:
        return system.stacks(name)
    except (OSError, KeyError, subprocess.SubprocessError) as exc:  # a diagnosis never hides the table
        return f"{name}: no stacks ({type(exc).__name__})"


def _replicated(system: ChaosSystem, result: Tally, lost: int) -> list[tuple[str, str]]:
    """On a replicated cluster nothing is lost with a node: no ingress message, no log to start over
    (a consumer position beyond what the broker holds), no topic to re-publish; elections stay clean."""
    from tests.chaos.kafka_faults import KafkaFaults

    unclean, min_isr = KafkaFaults.of(system).unclean_election_and_min_isr()
    if unclean != "false":
        result.problems.append(f"unclean.leader.election.enable = {unclean} on ipe.claim-events")
    if lost:
        result.problems.append(f"{lost} ingress messages acknowledged by a replicated cluster were lost")
    for what, needle in (("consumer positions beyond the log", "consumer.log_replaced"),
                         ("relay re-publications", "relay.republish")):  # fmt: skip
        if system.log_count(f'"{needle}"'):
            result.problems.append(f"{what} on a replicated cluster: it lost a log")
    return [("brokers (Apache Kafka nodes)", str(len(system.status()["brokers"]))),
            ("unclean.leader.election.enable (ipe.claim-events)", unclean),
            ("min.insync.replicas (ipe.claim-events)", min_isr)]  # fmt: skip
