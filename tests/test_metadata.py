from __future__ import annotations

import json

import pytest

from assistant.metadata import apply_overrides

# The table in ../shared/README.md, as published.
EXPECTED = {
    "2024-qingpu-baihe": ("2024年青浦区白鹤镇政务公开工作要点", "青浦区白鹤镇人民政府", "青白府〔2024〕15号",
                          "2024-07-05", None, "镇", "白鹤镇"),
    "2023-baoshan-songnan": ("2023年淞南镇政务公开工作计划", "上海市宝山区淞南镇人民政府", "宝淞府〔2023〕8号",
                             "2023-07-03", None, "镇", "淞南镇"),
    "2024-minhang-pujin": ("2024年浦锦街道政务公开工作要点", "闵行区浦锦街道办事处", None,
                           "2024-05-10", "2024-05-16", "街道", "浦锦街道"),
    "2024-pudong": ("2024年浦东新区政务公开工作要点", "浦东新区人民政府办公室", "浦府办〔2024〕14号",
                    "2024-04-26", None, "区", "浦东新区"),
    "2024-songjiang": ("2024年松江区政务公开工作要点", "上海市松江区人民政府办公室", "沪松府办〔2024〕12号",
                       "2024-05-10", None, "区", "松江区"),
}


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
def test_metadata_is_read_from_the_text_and_matches_the_published_table(parsed, doc_id):
    title, issuer, number, date, published, level, place = EXPECTED[doc_id]
    meta = parsed[doc_id].meta
    assert meta.title == title
    assert meta.issuer == issuer
    assert meta.doc_number == number
    assert meta.date == date
    assert meta.published == published
    assert meta.level == level
    assert meta.place == place
    assert meta.year == int(title[:4])


def test_place_aliases_include_the_short_name(parsed):
    assert parsed["2024-pudong"].meta.aliases == ["浦东新区", "浦东"]
    assert parsed["2023-baoshan-songnan"].meta.aliases == ["淞南镇", "淞南"]
    assert parsed["2023-baoshan-songnan"].meta.district == "宝山区"


def test_override_file_replaces_fields_the_extractor_could_not_read(parsed, tmp_path):
    (tmp_path / "2024-minhang-pujin.json").write_text(
        json.dumps({"doc_number": "闵浦锦办〔2024〕1号"}, ensure_ascii=False), encoding="utf-8")
    meta = apply_overrides(parsed["2024-minhang-pujin"].meta, tmp_path)
    assert meta.doc_number == "闵浦锦办〔2024〕1号"
    assert meta.issuer == "闵行区浦锦街道办事处"


def test_override_with_unknown_field_is_refused(parsed, tmp_path):
    (tmp_path / "2024-pudong.json").write_text('{"colour": "red"}', encoding="utf-8")
    with pytest.raises(ValueError, match="colour"):
        apply_overrides(parsed["2024-pudong"].meta, tmp_path)
