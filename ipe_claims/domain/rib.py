"""The Moroccan RIB (relevé d'identité bancaire): the 24 digits a benefit is paid to, checked by its key.

Layout since the SIMT (système interbancaire marocain de télécompensation, 2004): 3 digits of bank code,
3 of locality (code ville), 16 of account number, 2 of key (La Vie éco, "Banques : pas de RIB complet, pas
de virement", 2004; the 24-digit length is also what Moroccan payment processors require of ISO 20022
transfers since 3 Nov 2025, HSBC Malaysia notice reported by barlamane.com).

The key is the RIB key's mod-97 check (fr.wikipedia.org, "Clé RIB"): the two key digits, between 01 and
97, complete the number so that the whole RIB read as an integer is divisible by 97; hence
key = 97 - (first 22 digits × 100 mod 97). No Bank Al-Maghrib text of the algorithm was found; this is
the check every public Moroccan RIB validator we found applies (docs/rules.md, "After the decision").
"""

from __future__ import annotations

from dataclasses import dataclass

from ipe_claims.domain.errors import DomainError

RIB_LENGTH = 24

RIB_LENGTH_ERROR = "rib_length"
RIB_NOT_DIGITS = "rib_not_digits"
RIB_KEY_ERROR = "rib_key"


class InvalidRib(DomainError):
    """A RIB that cannot be the one of a Moroccan account; ``code`` says what is wrong.

    The messages never repeat the RIB: it identifies the worker's account.
    """

    def __init__(self, code: str, message_fr: str, message_ar: str) -> None:
        super().__init__(message_fr)
        self.code = code
        self.message_fr = message_fr
        self.message_ar = message_ar


@dataclass(frozen=True)
class Rib:
    bank: str  # code banque, 3 digits
    locality: str  # code ville (localité), 3 digits
    account: str  # numéro de compte, 16 digits
    key: str  # clé RIB, 2 digits

    def __str__(self) -> str:
        return f"{self.bank}{self.locality}{self.account}{self.key}"

    def __repr__(self) -> str:
        """A log line or a traceback shows the bank and locality, never the account number."""
        return f"Rib(bank={self.bank!r}, locality={self.locality!r}, account='…')"


def rib_key(first_22_digits: str) -> str:
    """The two key digits (01-97) that make the 24-digit number divisible by 97."""
    if (
        len(first_22_digits) != RIB_LENGTH - 2
        or not first_22_digits.isascii()
        or not first_22_digits.isdigit()
    ):
        raise ValueError("the key is computed from 22 digits")
    return f"{97 - int(first_22_digits) * 100 % 97:02d}"


def parse_rib(text: str) -> Rib:
    """The RIB in ``text`` (spaces between groups allowed, as printed on an attestation), or InvalidRib."""
    digits = "".join(text.split())
    position = next((i for i, c in enumerate(digits, 1) if not ("0" <= c <= "9")), None)
    if position is not None:
        raise InvalidRib(
            RIB_NOT_DIGITS,
            f"Le RIB ne doit contenir que des chiffres (caractère non numérique en position {position})",
            f"يجب أن يتكون رقم الحساب البنكي من أرقام فقط (حرف غير رقمي في الموضع {position})",
        )
    if len(digits) != RIB_LENGTH:
        raise InvalidRib(
            RIB_LENGTH_ERROR,
            f"Le RIB compte {RIB_LENGTH} chiffres, {len(digits)} reçus",
            f"يتكون رقم الحساب البنكي من {RIB_LENGTH} رقما، تم التوصل بـ {len(digits)}",
        )
    if rib_key(digits[:22]) != digits[22:]:
        raise InvalidRib(
            RIB_KEY_ERROR,
            f"La clé RIB ({digits[22:]}) ne correspond pas aux 22 premiers chiffres : vérifiez le RIB",
            f"مفتاح رقم الحساب البنكي ({digits[22:]}) لا يطابق الأرقام الـ22 الأولى: يرجى التحقق من الرقم",
        )
    return Rib(digits[:3], digits[3:6], digits[6:22], digits[22:])
