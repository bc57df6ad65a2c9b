"""Reference data an employer picks from: its affiliations, the insured they declared, the motifs."""

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ipe_claims.domain.motifs import MOTIFS
from services.claim_intake import access_log, errors
from services.claim_intake.deps import Db, Employer, request_id

router = APIRouter(prefix="/api/v1")


class Motif(BaseModel):
    code: str
    label_fr: str
    label_ar: str


class Affiliation(BaseModel):
    affiliation_number: str
    name: str | None


class InsuredPerson(BaseModel):
    immatriculation: str
    cin: str
    nom: str
    prenoms: str


@router.get("/motifs", response_model=list[Motif], responses=errors.COMMON)
def motifs() -> list[dict[str, str]]:
    return [{"code": m.code, "label_fr": m.label_fr, "label_ar": m.label_ar} for m in MOTIFS.values()]


@router.get("/affiliations", response_model=list[Affiliation], responses=errors.AUTHENTICATED)
def affiliations(caller: Employer, conn: Db) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT affiliation_number, name FROM affiliations WHERE affiliation_number = ANY(%s) "
        "ORDER BY affiliation_number",
        (sorted(caller.affiliations),),
    ).fetchall()


@router.get("/affiliations/{affiliation_number}/insured", response_model=list[InsuredPerson],
            responses=errors.AUTHENTICATED | errors.documented(404))  # fmt: skip
def insured(affiliation_number: str, caller: Employer, conn: Db, request: Request) -> list[dict[str, Any]]:
    if affiliation_number not in caller.affiliations:
        raise errors.not_found("affiliation_number")
    people = conn.execute(
        "SELECT i.immatriculation, i.cin, i.nom, i.prenoms FROM insured i WHERE EXISTS ("
        "SELECT 1 FROM declarations d WHERE d.immatriculation = i.immatriculation "
        "AND d.affiliation_number = %s) ORDER BY i.nom, i.prenoms, i.immatriculation",
        (affiliation_number,),
    ).fetchall()
    shown = [
        {"affiliation_number": affiliation_number, "immatriculation": p["immatriculation"]} for p in people
    ]
    access_log.record(conn, caller, "insured.list", shown, request_id(request))
    return people
