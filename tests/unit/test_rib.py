"""The Moroccan RIB: 24 digits, their parts, and the mod-97 key; errors say what is wrong."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipe_claims.domain.errors import DomainError
from ipe_claims.domain.rib import (
    RIB_KEY_ERROR,
    RIB_LENGTH_ERROR,
    RIB_NOT_DIGITS,
    InvalidRib,
    Rib,
    parse_rib,
    rib_key,
)

# Invented account numbers; keys worked out by hand: 97 - (n × 100 mod 97).
VALID = "007780000123456789012396"
VALID_2 = "230570000000000000000105"

twenty_two_digits = st.text(alphabet="0123456789", min_size=22, max_size=22)


def test_a_valid_rib_is_split_into_bank_locality_account_and_key() -> None:
    assert parse_rib(VALID) == Rib("007", "780", "0001234567890123", "96")
    assert str(parse_rib(VALID_2)) == VALID_2


def test_the_key_of_hand_worked_examples() -> None:
    assert rib_key("0077800001234567890123") == "96"
    assert rib_key("2305700000000000000001") == "05"  # a key below 10 keeps its leading zero


def test_spaces_between_groups_are_allowed() -> None:
    assert parse_rib("007 780 0001234567890123 96") == parse_rib(VALID)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        (VALID[:-1], RIB_LENGTH_ERROR, "23 reçus"),
        (VALID + "0", RIB_LENGTH_ERROR, "25 reçus"),
        ("", RIB_LENGTH_ERROR, "0 reçus"),
        ("0077800001234A6789012396", RIB_NOT_DIGITS, "position 14"),
        ("007-780-0001234567890123-96", RIB_NOT_DIGITS, "position 4"),
        ("٠" + VALID[1:], RIB_NOT_DIGITS, "position 1"),  # an Arabic-Indic zero is not an ASCII digit
        (VALID[:-2] + "97", RIB_KEY_ERROR, "clé RIB (97)"),
        ("007780000123456789012369", RIB_KEY_ERROR, "clé RIB (69)"),
    ],
)
def test_each_error_names_what_is_wrong(text: str, code: str, fragment: str) -> None:
    with pytest.raises(InvalidRib) as raised:
        parse_rib(text)
    assert raised.value.code == code
    assert fragment in raised.value.message_fr
    assert raised.value.message_ar
    assert isinstance(raised.value, DomainError)


def test_the_messages_never_repeat_the_account_number() -> None:
    with pytest.raises(InvalidRib) as raised:
        parse_rib(VALID[:-2] + "11")
    assert "0001234567890123" not in raised.value.message_fr + raised.value.message_ar


@given(twenty_two_digits)
def test_the_computed_key_completes_a_multiple_of_97_between_01_and_97(first: str) -> None:
    key = rib_key(first)
    assert 1 <= int(key) <= 97 and len(key) == 2
    assert int(first + key) % 97 == 0
    assert parse_rib(first + key) == Rib(first[:3], first[3:6], first[6:], key)


@given(twenty_two_digits, st.integers(0, 21), st.integers(1, 9))
def test_any_single_digit_typo_is_caught(first: str, position: int, shift: int) -> None:
    rib = first + rib_key(first)
    typo = str((int(rib[position]) + shift) % 10)
    with pytest.raises(InvalidRib) as raised:
        parse_rib(rib[:position] + typo + rib[position + 1 :])
    assert raised.value.code == RIB_KEY_ERROR


@given(twenty_two_digits, st.integers(0, 20))
def test_swapping_two_different_adjacent_digits_is_caught(first: str, position: int) -> None:
    rib = first + rib_key(first)
    a, b = rib[position], rib[position + 1]
    if a == b:
        return
    with pytest.raises(InvalidRib):
        parse_rib(rib[:position] + b + a + rib[position + 2 :])


def test_rib_key_refuses_anything_but_22_digits() -> None:
    with pytest.raises(ValueError):
        rib_key("123")
