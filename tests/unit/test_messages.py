"""The notification templates render in French and Arabic with every field, and refuse missing ones."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from services.notifier.messages import KINDS, MessageRenderer, Texts

CONTEXT = {
    "claim_id": "c-1", "prenoms": "Fatima", "nom": "ALAMI", "affiliation_number": "1234567",
    "filed_on": "12/03/2026", "job_loss_date": "10/03/2026", "motif_label_fr": "Fin de contrat",
    "motif_label_ar": "انتهاء العقد", "monthly_amount": "2800.00", "duration_months": 6,
    "rejection_reason_fr": "Nombre de jours insuffisant", "rejection_reason_ar": "عدد الأيام غير كاف",
    "return_date": "02/06/2026", "benefit_end": "01/06/2026", "months_due": 3, "late_notice": False,
    "payment_month": "04/2026", "amount": "2800.00", "dossier_deadline": "01/12/2026",
    "pieces": [{"label_fr": "Attestation de RIB", "label_ar": "شهادة التعريف البنكي", "refused": True}],
    "piece_label_fr": "Attestation de RIB", "piece_label_ar": "شهادة التعريف البنكي",
    "refusal_reason": "Compte au nom d'un tiers",
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


RETURNED = CONTEXT | {"return_date": "02/06/2026", "benefit_end": "01/06/2026", "months_due": 3,
                      "late_notice": True}  # fmt: skip


def test_the_benefit_ended_message_carries_the_return_and_the_months_due() -> None:
    renderer = MessageRenderer()
    fr = renderer.render("benefit_ended", "fr", RETURNED)
    ar = renderer.render("benefit_ended", "ar", RETURNED)
    assert "02/06/2026" in fr.body and "01/06/2026" in fr.body and "3 mois" in fr.body
    assert "huit jours" in fr.body  # the late notice is said
    assert "02/06/2026" in ar.body and "استئناف" in ar.subject
    on_time = renderer.render("benefit_ended", "fr", RETURNED | {"late_notice": False})
    assert "huit jours" not in on_time.body and "\n\n\n" not in on_time.body


def _texts(kind: str = "valid") -> Texts:
    renderer = MessageRenderer()
    fr, ar = renderer.render(kind, "fr", CONTEXT), renderer.render(kind, "ar", CONTEXT)
    return Texts(fr.subject, fr.body, ar.subject, ar.body, "0b9d6f7e-1111-4222-8333-944455556666")


def test_the_email_carries_both_languages_with_the_workers_first() -> None:
    texts = _texts()
    ar_first = MessageRenderer().email(texts, "ar")
    assert ar_first.subject == f"{texts.subject_ar} / {texts.subject_fr}"
    assert ar_first.text.index(texts.subject_ar) < ar_first.text.index(texts.subject_fr)
    assert "2800.00 DH" in ar_first.text and "ANAPEC" in ar_first.text
    fr_first = MessageRenderer().email(texts, "fr")
    assert fr_first.text.startswith(texts.subject_fr)


def test_the_html_part_renders_arabic_right_to_left_and_escapes_the_text() -> None:
    html = MessageRenderer().email(_texts(), "fr").html
    assert '<html lang="fr" dir="ltr">' in html
    assert '<div lang="ar" dir="rtl" style="text-align: right;">' in html
    assert '<div lang="fr" dir="ltr" style="text-align: left;">' in html
    assert "d&#39;emploi" in html and "Fatima ALAMI" in html  # escaped, and the text is there
    assert html.index('lang="fr" dir="ltr" style') < html.index('lang="ar" dir="rtl"')
    rtl_first = MessageRenderer().email(_texts(), "ar").html
    assert '<html lang="ar" dir="rtl">' in rtl_first


def test_the_sms_is_short_and_bilingual() -> None:
    texts = _texts("rejected")
    sms = MessageRenderer().sms(texts, "ar")
    assert sms.index(texts.subject_ar) < sms.index(texts.subject_fr)
    assert "0b9d6f7e" in sms and len(sms) < 300
