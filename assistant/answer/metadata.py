"""Questions about a document itself — 文号, issuer, title, dates, 主送/抄送 — answered from its
metadata, each value quoted from (and cited to) the clause of the document that states it.

A value the metadata has but no clause states verbatim is not given: every answer line must be
groundable in its citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.ingest.infobar import DATE_LABELS, ISSUER_LABELS, LABELS, NUMBER_LABELS, read_infobar
from assistant.ingest.searchkey import search_key
from assistant.ingest.metadata import DocumentMeta
from assistant.ingest.structure import Clause

METADATA_FACETS = ("doc_number", "issuer", "title", "recipients", "date")

_ISSUED = re.compile(r"印发")
_PUBLISHED = re.compile(r"发布|网上|公布|上网|挂网|公开时间")
_SIGNED = re.compile(r"成文|落款|签发|签署|通过")
_COPY = re.compile(r"抄送|抄报")
_MAIN_RECIPIENTS = re.compile(r"^([^。\n]{2,80}?)[:：]\s*$", re.M)
# The 抄送 list may wrap over lines; it ends at its full stop or before the issuer/印发 line.
_COPY_LINE = re.compile(r"(?:抄送|抄报)\s*[:：]\s*([^\n]+?。|[^\n]+(?:\n(?!\S*(?:印发|办公室|人民政府|办事处)\s*$)[^\n]+?(?:。|$))*)", re.M)


@dataclass(frozen=True)
class Fact:
    label: str                 # how the answer names it ("文号", "印发日期")
    span: str | None           # verbatim text of the clause, None when the document does not state it
    clause: Clause | None        # the clause that states it

    def __post_init__(self) -> None:
        # A value wrapped over lines in the source ("…区法院、\n区检察院") is one line in the answer.
        if self.span:
            object.__setattr__(self, "span", re.sub(r"\s*\n\s*", "", self.span))


def _date_pattern(iso: str) -> re.Pattern[str]:
    y, m, d = (int(x) for x in iso.split("-"))
    return re.compile(rf"{y}\s*年\s*0?{m}\s*月\s*0?{d}\s*日|{y}\s*[-.]\s*0?{m}\s*[-.]\s*0?{d}|{y}{m:02d}{d:02d}")


def _find(clauses: list[Clause], value: str | None) -> tuple[str | None, Clause | None]:
    """The clause stating `value` (layout and widths ignored) and the value as written there."""
    if not value:
        return None, None
    key = search_key(value)
    for clause in clauses:
        text = clause.text
        if key in search_key(text):
            pattern = r"\s*".join(map(re.escape, value.replace(" ", "")))
            m = re.search(pattern, text)
            return (m.group(0) if m else value), clause
    return None, None


def _find_date(clauses: list[Clause], iso: str | None, after: str = "",
               as_written: bool = False) -> tuple[str | None, Clause | None]:
    if not iso:
        return None, None
    pattern = _date_pattern(iso)
    found = [(m.group(0), clause) for clause in clauses for m in pattern.finditer(clause.text)
             if not after or clause.text[m.end():m.end() + 4].lstrip().startswith(after)]
    # `as_written`: the date as the document writes it ("2021年6月28日", its 落款) before the page's "2021-06-28".
    written = [f for f in found if "年" in f[0]] if as_written else []
    return (written or found or [(None, None)])[0]


def _dates(question: str, meta: DocumentMeta, clauses: list[Clause]) -> list[Fact]:
    """Which of the document's dates the question asks for: 印发 (footer), 发布 (page), else 成文."""
    facts = []
    if _SIGNATURE_ASKED.search(question):
        # "落款是哪天": the date under the signature, whatever the page's info bar says.
        signed = _line_match(clauses, _SIGNATURE_DATE)
        if signed[0]:
            facts.append(Fact("落款日期", *signed))
    elif _SIGNED.search(question) or not (_ISSUED.search(question) or _PUBLISHED.search(question)):
        facts.append(Fact("成文日期", *_find_date(clauses, meta.date)))
    if _ISSUED.search(question):
        # "哪天印发的" without a 版记: the document's own date as its 落款 writes it.
        span, clause = _footer_issued(clauses)
        facts.append(Fact("印发日期", span, clause) if span
                     else Fact("成文日期", *_find_date(clauses, meta.date, as_written=True)))
    if _PUBLISHED.search(question) and not _ISSUED.search(question):
        facts.append(Fact("发布日期", *_find_date(clauses, meta.published or meta.date)))
    unique = {f.label: f for f in facts}
    return list(unique.values())


def _footer_issued(clauses: list[Clause]) -> tuple[str | None, Clause | None]:
    for clause in clauses:
        if clause.kind == "footer":
            m = re.search(r"(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*印发", clause.text)
            if m:
                return m.group(1), clause
    return None, None


def _recipients(question: str, clauses: list[Clause]) -> Fact:
    if _COPY.search(question):
        for clause in clauses:
            m = _COPY_LINE.search(clause.text)
            if clause.kind == "footer" and m:
                return Fact("抄送", m.group(1).strip(), clause)
        return Fact("抄送", None, None)
    for clause in clauses:
        if clause.kind == "preamble":
            m = _MAIN_RECIPIENTS.search(clause.text)
            if m and not re.search(r"通知|要点|计划|文件$", m.group(1)):
                return Fact("主送", m.group(1).strip(), clause)
    return Fact("主送", None, None)


# What the front and back matter of a 公文 (GB/T 9704) state besides the metadata fields: the notice's
# own title line, and a seal applied on another office's behalf ("（北京市东城区政务服务和数据管理局代章）").
_NOTICE_TITLE = re.compile(r"^\s*([^\n。]{0,40}关于印发[^\n。]{2,60}的通知)\s*$", re.M)
_SEAL = re.compile(r"([^\s（）()]{2,40}代章)")
_SIGNATURE_ASKED = re.compile(r"落款")
_SIGNATURE_DATE = re.compile(r"^\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*$", re.M)


def _line_match(clauses: list[Clause], pattern: re.Pattern[str]) -> tuple[str | None, Clause | None]:
    """The first front/back-matter span `pattern` finds (its first group), with its clause."""
    for clause in clauses:
        if clause.kind not in ("preamble", "footer"):
            continue
        m = pattern.search(clause.text)
        if m:
            return m.group(1), clause
    return None, None


# "还有效吗", "是否失效", "现在还算有效不", "还算数吗": the page's 有效性 field.
_VALIDITY = re.compile(r"有效(?:吗|不|么|没有|性)|还有效|是否有效|失效(?:了)?(?:吗|没有)|是否失效|废止了(?:吗|没有)"
                       r"|(?:还|仍然?)算数|算不算数")


_FACET_OF_LABEL = {**{label: "date" for label in DATE_LABELS}, **{label: "doc_number" for label in NUMBER_LABELS},
                   **{label: "issuer" for label in ISSUER_LABELS}, "标题": "title"}


# Fields only a page's info bar has; "公开方式", "来源", "标题" are also ordinary words of a content
# question, so they are not taken as a request for a field.
_PAGE_FIELDS = ("索引号", "有效性", "统一编号", "主题分类", "组配分类", "所属类目", "废止日期", "实施日期", "生效日期",
                "失效日期", "联合发文单位", "信息来源", *DATE_LABELS, *NUMBER_LABELS, *ISSUER_LABELS)


# The other elements of a 公文 (GB/T 9704) that people ask about, each (label, how a question asks for
# it, where the front or back matter states it). Read from the document's own lines, never inferred.
_ELEMENTS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    ("附件", re.compile(r"附件"), re.compile(r"附件\s*\d*\s*[:：]\s*(\S[^\n]*)")),
    ("印数", re.compile(r"印了?(?:多少|几)份|共印(?:了)?(?:多少|几)|印数(?:是)?(?:多少|几)"), re.compile(r"(共印\s*\d+\s*份)")),
    ("版头", re.compile(r"版头|红头|文头|发文机关标志"), re.compile(r"^[#\s]*(\S{2,30}文件)\s*$", re.M)),
    ("公开属性", re.compile(r"此件|(?:文件|要点|计划|方案|通知)(?:本身)?(?:是否|是不是|是)?(?:公开发布|主动公开)(?:的)?(?:吗|么|没有)"),
     re.compile(r"[(（]\s*(此件[^()（）\n]{2,12}?)\s*[)）]")),
    ("审议", re.compile(r"(?:要点|计划|方案|文件|通知)[^，,。？?]{0,16}?(?:(?:什么|哪个|哪次|哪一次)会|审议|讨论通过|经过?[^，,。？?]{0,10}同意)"
                         r"|(?:第几次|哪次|哪一次|什么)[^，,。？?]{0,4}会议"),
     re.compile(r"((?:已经|经)[^。，,\n]{0,30}?(?:审议通过|讨论通过|同意))")),
    ("印章", re.compile(r"盖[^，,。？?]{0,4}?(?:谁|哪个单位|什么)[^，,。？?]{0,3}?(?:章|印)|(?:谁|哪个单位|哪个部门|哪家单位)[^，,。？?]{0,3}盖|印章|代章|谁的章"),
     _SEAL),
    ("印发机关", re.compile(r"(?:哪个|什么)(?:部门|单位|机关)[^，,。？?]{0,4}印发|印发(?:机关|部门|单位)|谁印发"),
     re.compile(r"^\s*(\S{2,40}?)\s*\n?\s*\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*印发", re.M)),
)


def element_labels(question: str) -> list[str]:
    """The 公文 elements besides the metadata fields that a question asks for ("附件", "印数", …)."""
    return [label for label, asked, _ in _ELEMENTS if asked.search(question)]


def element_facts(question: str, clauses: list[Clause]) -> list[Fact]:
    """Each asked element quoted from the front or back matter; "not stated" where the document has none."""
    facts = []
    for label, asked, stated in _ELEMENTS:
        if not asked.search(question):
            continue
        span, clause = _line_match(clauses, stated)
        if span is None:   # an attachment line may sit at the end of the body
            span, clause = next(((m.group(1), c) for c in clauses for m in [stated.search(c.text)] if m
                                 and label == "附件"), (None, None))
        if span is None and label == "印章":
            continue   # sealed by the issuer itself: the issuer fact answers it
        facts.append(Fact(label, span, clause))
    return facts


def infobar_labels(question: str) -> list[str]:
    """The info-bar fields a question names ("索引号", "废止日期", validity)."""
    asked = [label for label in sorted(set(_PAGE_FIELDS) & set(LABELS), key=len, reverse=True) if label in question]
    asked = [a for a in asked if not any(a != b and a in b for b in asked)]
    if _VALIDITY.search(question) and "有效性" not in asked:
        asked.append("有效性")
    return asked


def infobar_facts(question: str, clauses: list[Clause]) -> list[Fact]:
    """The value of each info-bar field the question names, quoted from the notice clause; a field
    the page leaves empty is "not stated"."""
    facts = []
    for label in infobar_labels(question):
        for clause in clauses:
            if clause.kind != "preamble" or label not in clause.text:
                continue   # a page without that field says nothing about it
            value = read_infobar(clause.text.split("\n")).fields.get(label)
            span, _ = _find([clause], value)
            facts.append(Fact(label, span, clause if span else None))
            break
    return facts


def title_as_stated(meta: DocumentMeta, clauses: list[Clause]) -> tuple[str | None, Clause | None]:
    """The document's title as its own front matter writes it, and that clause (None when none states it)."""
    return _find(sorted(clauses, key=lambda c: c.kind not in ("preamble", "footer")), meta.title)


def document_facts(question: str, facet_kinds: list[str], meta: DocumentMeta, clauses: list[Clause]) -> list[Fact]:
    """The facts of one document that `question` asks for, in the order asked."""
    # The front matter states the metadata; search it first so a body sentence quoting the title
    # is not taken for the title line.
    ordered = sorted(clauses, key=lambda c: c.kind not in ("preamble", "footer"))
    # Fields the metadata facets answer from the whole document (dates, 文号, issuer, title) are left to them.
    facts = [f for f in infobar_facts(question, ordered) if _FACET_OF_LABEL.get(f.label) not in facet_kinds]
    elements = element_facts(question, ordered)
    facts.extend(elements)
    if any(f.label == "印发机关" and f.span for f in elements):
        facet_kinds = [k for k in facet_kinds if k != "issuer"]   # "哪个部门印发的": the 版记's office
    if any(f.label.endswith("日期") for f in facts):
        facet_kinds = [k for k in facet_kinds if k != "date"]   # "废止日期": that date, not the signing date
    for kind in dict.fromkeys(facet_kinds):
        if kind == "doc_number":
            facts.append(Fact("文号", *_find(ordered, meta.doc_number)))
        elif kind == "issuer":
            facts.append(Fact("发文单位", *_find(ordered, meta.issuer)))
        elif kind == "title":
            found = _find(ordered, meta.title)
            facts.append(Fact("标题", *(found if found[0] else _line_match(ordered, _NOTICE_TITLE))))
        elif kind == "recipients":
            facts.append(_recipients(question, ordered))
        elif kind == "date":
            facts.extend(_dates(question, meta, ordered))
    return facts
