"""A claim's dossier: which pieces it needs and where each stands; an agent records a piece (multipart).

The employer sees which pieces are missing, received, verified or refused, never their contents: no
reason, no scan, no RIB. Agents and auditors see who recorded what, when and why, the scan's SHA-256 and
the RIB. The RIB's digits are never logged (the edge logs no body; refusals never repeat them).
"""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile

from ipe_claims.adapters.blobs import scan_store
from ipe_claims.application.dossier import RecordDocument, dossier_of
from ipe_claims.application.ports import ScanStore
from ipe_claims.domain.claim import Claim
from ipe_claims.domain.errors import CodedError
from ipe_claims.domain.rib import InvalidRib
from ipe_claims.domain.scans import MAX_SCAN_BYTES
from services.claim_intake import access_log, errors
from services.claim_intake.deps import (
    Agent,
    ClaimReader,
    Db,
    DecimalJSONResponse,
    Now,
    Store,
    may_read_claim,
    parse_uuid,
    reads_every_claim,
    request_id,
)
from services.claim_intake.errors import ApiError

router = APIRouter(prefix="/api/v1/claims")

# Each refusal's words and field, by the domain's code (the status is errors.STATUS's).
_WORDS: dict[str, tuple[str, str, str | None]] = {
    "document_kind_unknown": ("Pièce inconnue pour ce dossier.", "وثيقة غير معروفة في هذا الملف.", "kind"),
    "document_status_invalid": ("Statut invalide : received, verified ou refused.",
                                "حالة غير صالحة: received أو verified أو refused.", "status"),
    "reason_required": ("Une pièce refusée indique le motif du refus.", "يجب بيان سبب رفض الوثيقة.", "reason"),
    "reason_too_long": ("Motif trop long (500 caractères au plus).", "السبب طويل جدا (500 حرف على الأكثر).",
                        "reason"),
    "rib_not_expected": ("Le RIB ne s'enregistre qu'avec la pièce rib.", "يسجل رقم الحساب البنكي مع وثيقة rib فقط.",
                         "rib"),
    "rib_required": ("Le RIB (24 chiffres) accompagne la pièce rib.", "يجب إرفاق رقم الحساب البنكي (24 رقما).",
                     "rib"),
    "claim_closed": ("Demande rejetée : son dossier est clos.", "الطلب مرفوض: ملفه مغلق.", None),
    "agent_required": ("Une action d'agent nomme l'agent et son agence.", "يجب تحديد العون ووكالته.", None),
    "scan_empty": ("Le fichier est vide.", "الملف فارغ.", "file"),
    "scan_too_large": (f"Un scan fait au plus {MAX_SCAN_BYTES // (1024 * 1024)} Mio.",
                       f"لا يتجاوز الملف الممسوح {MAX_SCAN_BYTES // (1024 * 1024)} ميغابايت.", "file"),
    "scan_type_refused": ("Un scan est un PDF, un JPEG ou un PNG.", "يجب أن يكون الملف PDF أو JPEG أو PNG.", "file"),
    "record_lost": ("La demande a changé entre-temps ; réessayez.", "تغير الطلب في الأثناء؛ أعيدوا المحاولة.", None),
}  # fmt: skip


def refusal(error: CodedError | InvalidRib) -> ApiError:
    """The domain's refusal in the API's shape; a RIB's own words name no digit of it."""
    if isinstance(error, InvalidRib):
        return ApiError(error.code, error.message_fr, error.message_ar, "rib")
    fr, ar, field = _WORDS.get(error.code, (str(error), str(error), None))
    return ApiError(error.code, fr, ar, field)


def _scans(request: Request) -> ScanStore:
    state = request.app.state
    if getattr(state, "scans", None) is None:
        state.scans = scan_store(state.settings)
    scans: ScanStore = state.scans
    return scans


def _readable(store: Store, caller: Any, claim_id: str) -> Claim:
    claim = store.find_claim(parse_uuid(claim_id))
    if claim is None or not may_read_claim(caller, claim.affiliation_number):
        raise errors.not_found()
    return claim


def dossier_body(claim: Claim, full: bool) -> dict[str, Any]:
    """The pieces required and where each stands; for the fund's staff, who recorded them and the RIB."""
    state = dossier_of(claim)
    latest = {document.record.kind: document for document in claim.documents}
    required = []
    for piece in state.required:
        item: dict[str, Any] = {"kind": piece.kind, "label_fr": piece.label_fr, "label_ar": piece.label_ar,
                                "status": piece.status}  # fmt: skip
        recorded = latest.get(piece.kind)
        if full and recorded is not None:
            item |= {"reason": piece.reason, "sha256": recorded.sha256, "agent": recorded.agent,
                     "agency": recorded.agency, "recorded_at": recorded.recorded_at.isoformat()}  # fmt: skip
            if recorded.record.rib is not None:
                item["rib"] = str(recorded.record.rib)
        required.append(item)
    return {"claim_id": str(claim.id), "required": required, "complete": state.complete,
            "completed_on": state.completed_on.isoformat() if state.completed_on else None,
            "deadline": claim.dossier_deadline.isoformat()}  # fmt: skip


def _logged(claim: Claim) -> list[dict[str, Any]]:
    return [{"claim_id": claim.id, "affiliation_number": claim.affiliation_number,
             "immatriculation": claim.immatriculation}]  # fmt: skip


@router.get("/{claim_id}/dossier", responses=errors.AUTHENTICATED | errors.documented(404))
def get_dossier(
    claim_id: str, caller: ClaimReader, conn: Db, store: Store, request: Request
) -> DecimalJSONResponse:
    """`{"required": [{"kind", "status", …}], "complete": bool}`: for the employer, which pieces are missing
    (status ``missing``, ``received``, ``verified`` or ``refused``); agents and auditors see more."""
    claim = _readable(store, caller, claim_id)
    access_log.record(conn, caller, "claim.dossier", _logged(claim), request_id(request))
    return DecimalJSONResponse(dossier_body(claim, full=reads_every_claim(caller)))


@router.post("/{claim_id}/dossier/{kind}", status_code=201,
             responses=errors.AUTHENTICATED | errors.documented(404, 409))  # fmt: skip
def record_document(
    claim_id: str,
    kind: str,
    caller: Agent,
    conn: Db,
    store: Store,
    clock: Now,
    request: Request,
    status: Annotated[str, Form(description="received, verified or refused")],
    reason: Annotated[str | None, Form(description="Why a piece is refused (required then).")] = None,
    rib: Annotated[str | None, Form(description="The RIB's 24 digits, for the piece rib.")] = None,
    file: Annotated[UploadFile | None, File(description="The scan: a PDF, JPEG or PNG.")] = None,
) -> DecimalJSONResponse:
    """An agent records a piece of the dossier (multipart/form-data): the scan's type is read from its
    bytes, the RIB checked by its key; the answer is the dossier as the agent sees it."""
    claim = _readable(store, caller, claim_id)
    scan = file.file.read(MAX_SCAN_BYTES + 1) if file is not None and file.filename else None
    record = RecordDocument(store, _scans(request), clock)
    try:
        claim = record(claim.id, kind, status, agent=caller.username, agency=caller.agency or "",
                       reason=reason or None, rib=rib or None, scan=scan)  # fmt: skip
    except (CodedError, InvalidRib) as error:
        raise refusal(error) from None
    access_log.record(conn, caller, "claim.dossier_record", _logged(claim), request_id(request))
    return DecimalJSONResponse(dossier_body(claim, full=True), status_code=201)
