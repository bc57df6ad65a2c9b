"""The access log of the HTTP routes (``ipe_claims.adapters.access_log``, where the rows are written).

Every route that returns names, CIN or figures of an insured records one row per claim (or insured)
it shows, before answering: if the record cannot be written, the data is not returned. A claim
submission's row is written with its batch's, in one statement, right after the transaction holding the
claims and before any of them is answered (``services/claim_intake/submissions.py``).
"""

from __future__ import annotations

from ipe_claims.adapters.access_log import insert, record, rows

__all__ = ["insert", "record", "rows"]
