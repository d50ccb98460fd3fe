"""The CPF, the Brazilian individual taxpayer number: nine digits and two check digits."""

import hashlib
import hmac
import re

CPF_PATTERN = r"^([0-9]{11}|[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2})$"
_CPF_RE = re.compile(CPF_PATTERN)


def check_digit(digits: str) -> int:
    """The check digit that follows `digits` (the first nine, then the first ten)."""
    weights = range(len(digits) + 1, 1, -1)
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) * 10 % 11
    return 0 if remainder == 10 else remainder


def with_check_digits(nine: str) -> str:
    """The CPF whose first nine digits are `nine`: they followed by their two check digits."""
    first = check_digit(nine)
    return f"{nine}{first}{check_digit(nine + str(first))}"


def normalize_cpf(value: str) -> str:
    """Return the CPF as 11 digits, or raise `ValueError` saying what is wrong with it."""
    if not _CPF_RE.fullmatch(value):
        raise ValueError("CPF must be 11 digits, optionally formatted as 123.456.789-09")
    digits = value.replace(".", "").replace("-", "")
    if digits == digits[0] * 11:
        raise ValueError("CPF must not be a single repeated digit")
    if digits != with_check_digits(digits[:9]):
        raise ValueError("CPF check digits do not match")
    return digits


def mask_cpf(cpf: str) -> str:
    """The CPF with all but its last two digits hidden, for logs."""
    return "*" * 9 + cpf[-2:]


def cpf_digest(cpf: str, key: bytes) -> str:
    """The CPF's keyed hash (HMAC-SHA256, in hex): what the enrollments' CPF index holds.

    Without the key, no one can tell which CPF a digest is of by hashing the billion possible
    CPFs, as they could a plain hash's (docs/adr/0012-a-keyed-index-of-the-cpf.md).
    """
    return hmac.new(key, cpf.encode(), hashlib.sha256).hexdigest()
