"""Reference data an employer picks from: its affiliations, the insured they declared, the motifs."""

from typing import Any

from fastapi import APIRouter

from ipe_claims.domain.motifs import MOTIFS
from services.claim_intake import errors
from services.claim_intake.deps import Db, Employer

router = APIRouter(prefix="/api/v1")


@router.get("/motifs")
def motifs() -> list[dict[str, str]]:
    return [{"code": m.code, "label_fr": m.label_fr, "label_ar": m.label_ar} for m in MOTIFS.values()]


@router.get("/affiliations")
def affiliations(caller: Employer, conn: Db) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT affiliation_number, name FROM affiliations WHERE affiliation_number = ANY(%s) "
        "ORDER BY affiliation_number",
        (sorted(caller.affiliations),),
    ).fetchall()


@router.get("/affiliations/{affiliation_number}/insured")
def insured(affiliation_number: str, caller: Employer, conn: Db) -> list[dict[str, Any]]:
    if affiliation_number not in caller.affiliations:
        raise errors.not_found("affiliation_number")
    return conn.execute(
        "SELECT i.immatriculation, i.cin, i.nom, i.prenoms FROM insured i WHERE EXISTS ("
        "SELECT 1 FROM declarations d WHERE d.immatriculation = i.immatriculation "
        "AND d.affiliation_number = %s) ORDER BY i.nom, i.prenoms, i.immatriculation",
        (affiliation_number,),
    ).fetchall()
