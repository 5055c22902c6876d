"""Names: canonical form, fold, display, split, ICAO, legacy encodings and sex (table tests from the spec)."""

import pytest

from tiemchung.identity import (
    canonical_name,
    decode_legacy,
    display_name,
    encode_tcvn3,
    encode_vni,
    fold_name,
    icao_name,
    icao_primary_secondary,
    parse_sex,
    split_name,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Nguyễn Thị Hòa", "NGUYỄN  THỊ  HOÀ"),  # case, spaces, old tone placement
        ("Nguyễn Thị Hòa", "Nguye\u0302\u0303n Thi\u0323 Hoa\u0300"),  # NFD
        ("Lê Thị Thủy", "Lê Thị Thuỷ"),
        ("Trần Văn Khỏe", "Trần Văn Khoẻ"),
        ("Đặng Văn A", "Ðặng Văn A"),  # Icelandic eth for Đ
        ("Hà  Văn\u00a0Tú", " hà văn tú "),
    ],
)
def test_names_that_agree(a, b):
    assert canonical_name(a) == canonical_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Nguyễn Thị Hòa", "Nguyen Thi Hoa"),  # lacks diacritics
        ("Nguyễn Văn Hùng", "Nguyễn Văn Hưng"),  # differs by a letter
        ("Lê Văn Quý", "Lê Văn Qúy"),  # qu-: the tone is on y in both conventions
    ],
)
def test_names_that_do_not_agree(a, b):
    assert canonical_name(a) != canonical_name(b)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("hoà", "hòa"), ("HOÀ", "hòa"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("hoạ", "họa"), ("toả", "tỏa"),
        ("loã", "lõa"), ("xoè", "xòe"), ("tuỵ", "tụy"), ("huỷ", "hủy"),
        ("quý", "quý"), ("quỳ", "quỳ"), ("quỷ", "quỷ"),  # qu-: unaffected
        ("hoàng", "hoàng"), ("thuyết", "thuyết"), ("toán", "toán"), ("huỳnh", "huỳnh"),  # closed syllables
        ("ngoài", "ngoài"), ("khuỷu", "khuỷu"), ("già", "già"), ("giữ", "giữ"),  # other vowel groups, gi-
        ("", ""), ("   ", ""),
    ],
)  # fmt: skip
def test_tone_placement(text, canonical):
    assert canonical_name(text) == canonical


def test_fold_display_split():
    assert fold_name("  Đặng Thị  Thuỷ ") == "dang thi thuy"
    assert fold_name("Ðỗ Ánh") == "do anh"
    assert fold_name("Nguyễn Thị Ư") == "nguyen thi u"
    assert display_name("nguyễn thị thuỷ") == "Nguyễn Thị Thủy"
    assert display_name("H’HEN NIÊ") == "H'Hen Niê"
    assert split_name("Nguyễn Văn Thành An") == ("Nguyễn", "Văn Thành", "An")
    assert split_name("Lê An") == ("Lê", "", "An")
    assert split_name("An") == ("", "", "An")
    assert split_name("") == ("", "", "")


def test_icao():
    assert icao_name("Nguyễn Văn An") == "NGUYEN<VAN<AN"
    assert icao_primary_secondary("Nguyễn Văn An") == ("NGUYEN", "VAN<AN")
    assert icao_primary_secondary("Đặng Thị Ánh-Tuyết") == ("DANG", "THI<ANH<TUYET")
    assert icao_primary_secondary("Müller") == ("MUELLER", "")
    assert icao_name("H’Hen Niê") == "HHEN<NIE"


@pytest.mark.parametrize(
    ("raw", "font", "text", "encoding", "detected"),
    [
        ("NguyÔn V¨n Hïng", ".VnTime", "Nguyễn Văn Hùng", "tcvn3", False),
        ("NguyÔn V¨n Hïng", None, "Nguyễn Văn Hùng", "tcvn3", True),
        ("NGUYÔN V¡N HïNG", ".VnTimeH", "NGUYỄN VĂN HÙNG", "tcvn3", False),
        ("§µ N½ng", None, "Đà Nẵng", "tcvn3", True),
        ("Thõa Thiªn HuÕ", None, "Thừa Thiên Huế", "tcvn3", True),
        ("Nguyeãn Thò Thuyû", "VNI-Times", "Nguyễn Thị Thuỷ", "vni", False),
        ("Nguyeãn Thò Thuyû", None, "Nguyễn Thị Thuỷ", "vni", True),
        ("NGUYEÃN THÒ THUYÛ", None, "NGUYỄN THỊ THUỶ", "vni", True),
        ("Nguyễn Thị Hòa", None, "Nguyễn Thị Hòa", "unicode", True),
        ("Hoà", None, "Hoà", "unicode", True),  # Latin-1-only Unicode is left alone
        ("Lê Tú Hà", None, "Lê Tú Hà", "unicode", True),
        ("Nguyen Van An", None, "Nguyen Van An", "unicode", True),
        ("Nguyễn Văn An", "Times New Roman", "Nguyễn Văn An", "unicode", False),
        ("Nguye^~n Va(n An", None, "Nguyễn Văn An", "viqr", True),  # VIQR, plain ASCII
        ("DDa(ng Thi. Thu+o+ng", None, "Đăng Thị Thương", "viqr", True),
        ("Nguyen Thi. An.", None, "Nguyen Thi. An.", "unicode", True),  # a full stop alone is not VIQR
        ("H'Hen Nie", None, "H'Hen Nie", "unicode", True),
    ],
)
def test_decode_legacy(raw, font, text, encoding, detected):
    decoded = decode_legacy(raw, font)
    assert (decoded.text, decoded.encoding, decoded.detected) == (text, encoding, detected)


def test_encoders_match_the_spec_examples():
    assert encode_tcvn3("Nguyễn Văn Hùng") == "NguyÔn V¨n Hïng"
    assert encode_vni("Nguyễn Thị Thuỷ") == "Nguyeãn Thò Thuyû"
    # TCVN3 has no capital accented letters: they are written with the lower-case code.
    assert encode_tcvn3("Ánh") == encode_tcvn3("ánh")
    assert decode_legacy(encode_tcvn3("ÁNH"), ".VnTimeH").text == "ÁNH"


@pytest.mark.parametrize(
    ("raw", "sex"),
    [
        ("Nam", "M"), ("NAM", "M"), ("nam", "M"), ("M", "M"), ("male", "M"),
        ("Nữ", "F"), ("nữ", "F"), ("Nu", "F"), ("NỮ", "F"), ("F", "F"), ("Female", "F"),
        ("N÷", "F"), ("Nöõ", "F"),  # TCVN3, VNI
        ("1", None), ("0", None), ("Khác", None), ("", None), (None, None), (1, None),
    ],
)  # fmt: skip
def test_parse_sex(raw, sex):
    assert parse_sex(raw) == sex


FAMILY = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Trịnh Mai Hà Lương Ông Âu"
MIDDLE = "Văn Thị Hữu Đức Minh Ngọc Thanh Thu Quốc Xuân Kim Bảo Thùy Thuỷ Hoài Diệu Trọng"
GIVEN = (
    "An Anh Ánh Ân Bình Chi Cường Dũng Duy Đạt Giang Hà Hải Hằng Hiền Hòa Hoà Hùng Hương Huy Khánh Khoa Lan "
    "Linh Long Mai My Mỹ Nam Nga Ngân Nhung Oanh Phúc Phương Quân Quý Sơn Tâm Thảo Thủy Trang Trí Tú Tuấn "
    "Uyên Vy Ý Yến Ước Nguyệt Khuê Quyên Xoan Thoa Tuyết Huyền Giao"
)


def _names(count: int) -> list[str]:
    """Deterministic full names: every family x middle x given combination, taken with a stride."""
    family, middle, given = FAMILY.split(), MIDDLE.split(), GIVEN.split()
    total = len(family) * len(middle) * len(given)
    picks = range(0, total, max(1, total // count))
    size = len(family) * len(middle)
    return [f"{family[i % len(family)]} {middle[(i // len(family)) % len(middle)]} {given[i // size]}" for i in picks][
        :count
    ]


def test_detection_leaves_unicode_alone_and_recovers_most_legacy_names():
    """Without a font name, detection is by spelling: names whose legacy bytes also spell valid Unicode
    Vietnamese ("Vò Thu An" is Vũ Thu An in TCVN3) stay Unicode, so a few percent are missed, never corrupted."""
    names = _names(2000)
    assert all(decode_legacy(name).text == name for name in names)
    for encode in (encode_tcvn3, encode_vni):
        recovered = sum(canonical_name(decode_legacy(encode(name)).text) == canonical_name(name) for name in names)
        assert recovered >= 0.97 * len(names), (encode.__name__, recovered)
    upper = [name.upper() for name in names[::4]]
    recovered = sum(decode_legacy(encode_tcvn3(name)).text == name for name in upper)
    assert recovered >= 0.95 * len(upper)


def test_icao_multi_letter_transliteration_does_not_depend_on_normalisation_form():
    import unicodedata

    assert icao_name(unicodedata.normalize("NFD", "Müller")) == icao_name("Müller") == "MUELLER"
