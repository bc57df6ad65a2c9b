"""The notification templates render in French and Arabic with every field, and refuse missing ones."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from services.notifier.messages import KINDS, MessageRenderer

CONTEXT = {
    "claim_id": "c-1", "prenoms": "Fatima", "nom": "ALAMI", "affiliation_number": "1234567",
    "filed_on": "12/03/2026", "job_loss_date": "10/03/2026", "motif_label_fr": "Fin de contrat",
    "motif_label_ar": "انتهاء العقد", "monthly_amount": "2800.00", "duration_months": 6,
    "rejection_reason_fr": "Nombre de jours insuffisant", "rejection_reason_ar": "عدد الأيام غير كاف",
}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_both_languages(kind: str) -> None:
    renderer = MessageRenderer()
    fr = renderer.render(kind, "fr", CONTEXT)
    ar = renderer.render(kind, "ar", CONTEXT)
    assert fr.subject and ar.subject and "\n" not in fr.subject
    assert "Fatima ALAMI" in fr.body and "Fatima ALAMI" in ar.body
    assert any("\u0600" <= char <= "\u06ff" for char in ar.subject + ar.body)  # Arabic script


def test_the_valid_message_carries_amount_and_duration() -> None:
    body = MessageRenderer().render("valid", "fr", CONTEXT).body
    assert "2800.00 DH" in body and "6 mois" in body and "ANAPEC" in body


def test_the_rejected_message_carries_the_reason() -> None:
    assert "عدد الأيام غير كاف" in MessageRenderer().render("rejected", "ar", CONTEXT).body


def test_a_missing_field_fails_loudly() -> None:
    with pytest.raises(UndefinedError):
        MessageRenderer().render("valid", "fr", {"prenoms": "x"})
