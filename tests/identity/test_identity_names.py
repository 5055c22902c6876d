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
