import pytest

from app.domain.cpf import mask_cpf, normalize_cpf


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("52998224725", "52998224725"),
        ("529.982.247-25", "52998224725"),
        ("11144477735", "11144477735"),
        ("00000000191", "00000000191"),
    ],
)
def test_valid_cpfs_are_normalized_to_eleven_digits(raw: str, normalized: str) -> None:
    assert normalize_cpf(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12345678900", "check digits"),
        ("52998224724", "check digits"),
        ("52998224735", "check digits"),
        ("11111111111", "repeated digit"),
        ("00000000000", "repeated digit"),
        ("5299822472", "11 digits"),
        ("529982247250", "11 digits"),
        ("529.982.24725", "11 digits"),
        ("529-982-247.25", "11 digits"),
        ("5299822472a", "11 digits"),
        (" 52998224725", "11 digits"),
        ("٥٢٩٩٨٢٢٤٧٢٥", "11 digits"),
        ("", "11 digits"),
    ],
)
def test_invalid_cpfs_are_rejected_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_cpf(raw)


def test_mask_keeps_only_the_last_two_digits() -> None:
    assert mask_cpf("52998224725") == "*********25"
