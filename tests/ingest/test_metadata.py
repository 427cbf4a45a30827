from __future__ import annotations

import json

import pytest

from assistant.ingest.infobar import iso_date, read_infobar
from assistant.ingest.metadata import apply_overrides

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


def test_the_five_gain_province_and_city_and_keep_everything_else(parsed):
    for doc_id in EXPECTED:
        meta = parsed[doc_id].meta
        assert (meta.province, meta.city) == ("上海市", "上海市")
    assert parsed["2024-qingpu-baihe"].meta.district == "青浦区"
    assert parsed["2024-minhang-pujin"].meta.district == "闵行区"


@pytest.mark.parametrize("lines,fields", [
    (["• 发文字号: 宝府办〔2022〕11号", "• 发文日期: 2022-03-28• 公开类别: 主动公开"],
     {"发文字号": "宝府办〔2022〕11号", "发文日期": "2022-03-28", "公开类别": "主动公开"}),
    (["发布日期:2022-06-30    发布者:和平区人民政府办公室"], {"发布日期": "2022-06-30", "发布者": "和平区人民政府办公室"}),
    (["3. [发文机构] 区政务公开领导小组办公室", "4. [联合发文单位]", "5. [实施日期]"], {"发文机构": "区政务公开领导小组办公室"}),
    (["成文日期", "2021-06-28", "统一编号", "发布日期", "2021-06-28"], {"成文日期": "2021-06-28", "发布日期": "2021-06-28"}),
    (["发文字号:", "成文日期:", "2022-03-17"], {"成文日期": "2022-03-17"}),
    (["索引号: | 1137/2024-00050 | 发布日期: | 2024-01-18 |"], {"索引号": "1137/2024-00050", "发布日期": "2024-01-18"}),
    (["信息来源: 区政府办公室发布时间 2022-03-28"], {"信息来源": "区政府办公室", "发布时间": "2022-03-28"}),
    (["失效日期:", "2022年,崇明区政务公开工作的总体要求是:以习近平新时代中国特色社会主义思想为指导,落实工作部署。"], {}),
])
def test_info_bar_layouts(lines, fields):
    assert read_infobar(lines).fields == fields


@pytest.mark.parametrize("text,iso", [("2023年3月31日", "2023-03-31"), ("2023.03.30", "2023-03-30"),
                                      ("2023-03-30", "2023-03-30"), ("2023/3/30", "2023-03-30"),
                                      ("2022328", None), ("2023年13月1日", None)])
def test_dates_in_every_form_and_a_signature_without_separators_is_none(text, iso):
    assert iso_date(text) == iso
