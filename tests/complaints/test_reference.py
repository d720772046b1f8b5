"""Complaint references: round trip, normalisation, typo detection."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.complaints.errors import InvalidReference
from ledger.complaints.reference import (
    ALPHABET,
    CHECK_ALPHABET,
    format_reference,
    is_canonical_reference,
    parse_reference,
    reference_bytes,
    reference_matches,
)

hashes = st.binary(min_size=32, max_size=32)


def symbols(ref: str) -> str:
    return ref.removeprefix("CMP-").replace("-", "")


def with_symbols(s: str) -> str:
    return "CMP-" + "-".join(s[i : i + 5] for i in range(0, 25, 5))


def test_shape():
    ref = format_reference(hashlib.sha256(b"x").digest())
    assert ref == "CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1JG"
    assert len(symbols(ref)) == 25  # 24 data symbols (120 bits) + 1 check symbol
    assert is_canonical_reference(ref)


@given(hashes)
def test_round_trip(h):
    ref = format_reference(h)
    assert parse_reference(ref) == ref
    assert reference_bytes(ref) == h[:15]
    assert reference_matches(ref, h)


@given(hashes)
def test_normalises_case_spacing_hyphens_and_lookalikes(h):
    ref = format_reference(h)
    sloppy = ref.lower().replace("-", " ").replace("1", "l").replace("0", "O")
    assert parse_reference(sloppy) == ref
    assert parse_reference(symbols(ref)) == ref  # without the CMP prefix
    assert parse_reference("  " + ref.replace("-", "") + "\n") == ref
    assert parse_reference(ref.replace("1", "I")) == ref


@given(hashes, st.integers(0, 24), st.sampled_from(ALPHABET))
def test_any_single_substitution_is_detected(h, pos, replacement):
    s = symbols(format_reference(h))
    if s[pos] == replacement or pos == 24:
        return
    with pytest.raises(InvalidReference) as exc:
        parse_reference(with_symbols(s[:pos] + replacement + s[pos + 1 :]))
    assert exc.value.code == "REFERENCE_CHECK"


@given(hashes, st.integers(0, 23))
def test_any_adjacent_transposition_is_detected(h, pos):
    s = symbols(format_reference(h))
    if s[pos] == s[pos + 1]:
        return
    swapped = s[:pos] + s[pos + 1] + s[pos] + s[pos + 2 :]
    with pytest.raises(InvalidReference) as exc:
        parse_reference(with_symbols(swapped))
    assert exc.value.code in {"REFERENCE_CHECK", "REFERENCE_CHARACTER"}


def test_check_symbol_covers_all_37_values():
    seen = {
        symbols(format_reference(hashlib.sha256(str(i).encode()).digest()))[-1] for i in range(400)
    }
    assert seen == set(CHECK_ALPHABET)  # including the check-only symbols * ~ $ = U
    for i in range(400):
        ref = format_reference(hashlib.sha256(str(i).encode()).digest())
        assert parse_reference(ref.lower()) == ref


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "REFERENCE_EMPTY"),
        ("   ", "REFERENCE_EMPTY"),
        ("CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1J", "REFERENCE_LENGTH"),
        ("CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1JGX", "REFERENCE_LENGTH"),
        ("CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1U G", "REFERENCE_CHARACTER"),  # U only as check
        ("CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1J!", "REFERENCE_CHARACTER"),
        ("CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1JH", "REFERENCE_CHECK"),
    ],
)
def test_invalid_references_have_clear_codes(text, code):
    with pytest.raises(InvalidReference) as exc:
        parse_reference(text)
    assert exc.value.code == code
    assert exc.value.message


def test_is_canonical_only_for_printed_form():
    ref = format_reference(hashlib.sha256(b"x").digest())
    assert not is_canonical_reference(ref.lower())
    assert not is_canonical_reference(ref.replace("-", ""))
    assert not is_canonical_reference(None)


def test_reference_needs_enough_hash():
    with pytest.raises(InvalidReference):
        format_reference(b"short")


def test_matches_only_its_own_hash():
    a, b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    assert not reference_matches(format_reference(a), b)
    assert not reference_matches("garbage", a)
