"""What a factoid question asks for (a month, a number of days, the responsible units …) and
where that span is in a clause.

The answer step leads with the span when it finds one, and says the document does not state it
when it does not, instead of passing a neighbouring sentence off as the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.ingest.searchkey import search_key
from assistant.ingest.tables import units_in_parentheses
from assistant.ingest.structure import Clause
from assistant.query.gazetteer import places_in


@dataclass(frozen=True)
class Facet:
    kind: str          # basis | date | duration | count | units | theme | doc_number | money | person | place | number
    label: str         # how the answer names what is missing ("具体时限")
    targets: tuple[str, ...] = ()   # the noun the question asks about ("访问量" in "访问量是多少")
    unit: str | None = None         # the unit the question expects ("工作日" in "几个工作日")
    issued: bool = False            # asks for the 印发 date (the footer's), not the signing date
    day: bool = False               # asks for a day ("几号", "哪一天"): a month alone does not answer it
    destination: bool = False       # asks where something goes ("向哪里备案"), not who does it
    prefer: tuple[str, ...] = ()    # names an answer span should rather hold (聊城 of "提到的聊城市要点")


# Order matters: the first matching kind wins ("几个工作日" is a duration, not a count).
_FACETS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # "按照哪两个上级文件制定的", "提到的聊城市要点文号是多少": the documents a plan says it follows, named in its
    # text ("认真落实《…》(鲁政办发〔2021〕5号)"), not the plan's own metadata.
    ("basis", re.compile(r"上级(?:的)?(?:文件|要点|通知|精神|部署)|依据(?:的)?(?:是)?(?:哪|什么)"
                         r"|(?:按照|根据|落实|依据)(?:的)?(?:是)?(?:哪|什么)[几两一个份]*(?:文件|要点|通知|精神|部署)"
                         r"|(?:提到|引用|提及)的[^，,。？?]{0,16}(?:要点|文件|通知)"), "依据的文件"),
    ("doc_number", re.compile(r"文号|发文字号|字号"), "文号"),
    ("issuer", re.compile(r"谁发的|谁印发|谁制定|谁出的|谁签发|发文机关|发文单位|发文机构|印发单位|发布单位|发布机构|发布机关"
                          r"|谁发布|谁下发|谁出台|制定单位|制发单位|哪个(?:单位|部门|机关)[^，,。？?]{0,6}?(?:印发|发布|制定|出台|发的|下发)|(?:发文|印发|发布)的?(?:是|单位是)哪个(?:单位|部门|机关)|落款(?!日期|时间|是哪天)|盖的是谁|谁的章|发布者|发布人"), "发文单位"),
    ("title", re.compile(r"标题|全称|文件名|是(?:什么|啥|哪个|哪份)(?:文件|通知)|(?:文件|要点|计划|方案)(?:的名字|叫什么)|题目"), "标题"),
    ("recipients", re.compile(r"主送|发给|印发给|下发给|抄送|发到|发送给"), "发送对象"),
    ("person", re.compile(r"名字|姓名|(?<!文件)(?<!要点)叫什么名|(?:领导|负责人|主任|局长|镇长|区长|书记)是谁|哪位|签发人|谁签发|谁签的|署名"), "人员姓名"),
    ("place", re.compile(r"地点|地址|在哪里举办|在哪儿举办|哪个地方|什么地方"), "地点"),
    ("money", re.compile(r"多少钱|费用|收费|万元|金额|工资|预算是多少|经费是多少"), "金额"),
    ("units", re.compile(r"哪个单位|哪些单位|哪个部门|哪些部门|谁负责|由谁|哪家|责任单位|牵头单位|谁来|归谁|归哪|哪个机关|是谁|向哪(?:里|儿|个部门|个单位)|报哪|交给谁|找谁|哪些处室|哪个处室|分给|分工给|落实到哪|谁[？?。！!]*$"), "责任单位"),
    ("duration", re.compile(r"几个工作日|多少个工作日|几天|多少天|多久|多长时间|期限|(?<!完成)(?<!办结)时限"), "具体时限"),
    ("date", re.compile(r"几月|哪个月|什么时候|啥时候|几时|何时|哪天|哪一天|什么时间|时间节点|日期|截止|几号|哪年"
                        r"|完成时限|办结时限|完成时间|(?:哪个|哪份|谁)(?:先|早|后|晚)(?:发|印发|出台|发布)"), "具体时间"),
    # "哪几类/哪几个方面/哪些环节" asks for the items themselves (a list), not how many.
    # "其他几项目标呢" and "这几条" point at items, "好几次" counts loosely; neither asks how many.
    ("count", re.compile(r"(?<!哪)(?<!分了)(?<!分为)(?<!其他)(?<!其余)(?<!另外)(?<![这那好])(?:几次|多少次|几项|第几项|第几|几版|多少项|几个|几类|几条|几方面)"), "具体数量"),
    ("theme", re.compile(r"主题|口号"), "主题"),
    # "好几次" is "several times", said, not asked.
    ("number", re.compile(r"多少|(?<!哪)(?<!其他)(?<!其余)(?<!另外)(?<![这那好])几(?![乎])"), "具体数字"),
)

_DATE = re.compile(
    r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}\s*年\s*\d{1,2}\s*月(?:底|前|中旬|上旬|下旬)?|\d{1,2}\s*月\s*\d{1,2}\s*日前?|\d{1,2}\s*月(?:底|前|中旬|上旬|下旬)?"
    r"|\d{4}\s*年\s*(?:底|初|中|上半年|下半年|内)前?|[上下]半年|第[一二三四1-4]季度(?:末|底|前)?"
    r"|全年|年底前|年内|当天"
)
# "每季度研究一次" answers "多长时间研究一次": a frequency is a length of time too.
_DURATION = re.compile(r"\d+\s*个?\s*工作日(?:内)?|\d+\s*(?:日|天)内|\d+\s*个月|当天"
                       r"|每(?:个)?(?:季度|半年|年度?|月|周|星期)")
_COUNT = re.compile(r"第\s*[\d一二三四五六七八九十百]+\s*(?:次|届|批|轮|期)|\d+(?:\.\d+)?\s*(?:次|项|个|版|份|类)|[一二三四五六七八九十两]+(?:次|项|类|个)|多次")
_MONEY = re.compile(r"\d+(?:\.\d+)?\s*(?:万元|亿元|元)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*[个次项版份天日月年类%％]?")
_NARRATIVE = re.compile(r"^(?:我|我们|咱们|咱|本人|我家|听说|领导让我|科长让我)(?![们]?(?:想|要|该|应该|需要)知道)")
_ABOUT_ASKER = re.compile(r"^(?:我|我们|本人|咱们?)(?:是|刚|在|新|现在|目前|负责|从事|所在|单位|科室|之前|以前|一直)")
_ITEMS_ASKED = re.compile(r"分别|是哪些|有哪些|都是什么|都有什么|都有哪些|是哪几")
_DESTINATION_ASKED = re.compile(r"向哪|报哪|报给|交到哪|报送给")   # "这项工作交给谁": who it is assigned to
_ORG_NAME = r"[\u4e00-\u9fff]{2,14}?(?:办公室|局|委|中心|部门|政府|办|科|处)"
_DESTINATION = re.compile(rf"向({_ORG_NAME})(?:备案|报送|报告|报备|反馈|提交|申请)|(?:报送|报备|提交|报告)(?:至|给|到)?({_ORG_NAME})")
# "组织法律顾问、公职律师等进行会商研判": who takes part, when no one is said to be responsible.
_PARTICIPANTS = re.compile(r"(?:组织|邀请|会同|联合|依托)([\u4e00-\u9fff、]{2,30}?)等?(?:进行|开展|参与|共同|研判|会商)")
_DAY_ASKED = re.compile(r"几号|哪天|哪一天|几日|具体日期|哪一日")
_RESPONSIBILITY = re.compile(r"负责|牵头|责任单位|落实|承办")
_DOCUMENT_NOUN = re.compile(r"文件|要点|计划|方案|通知|本文|这份|那份|该文|〔\d{4}〕")
_QUOTED = re.compile(r"“([^”]{2,40})”")
_RESPONSIBLE = re.compile(r"([\u4e00-\u9fff、]{2,20}?)(?:牵头|协调推进|负责|主抓|承担)")
# "政策制定单位要及时启动专题调查": an organisation as the subject of a requirement.
_ACTOR = re.compile(r"([\u4e00-\u9fff]{2,10}(?:单位|机关|部门|办公室|党政办|办|局|委|中心))(?:要|应当|应|须|将|及时)")
_RECIPIENTS = re.compile(r"^([^。]{2,80}?)[:：]$")
# "几十上百条", "十几个", "好几次", "几乎": a rough amount the asker states, never one asked for.
_ROUGH_AMOUNT = re.compile(r"几[十百千万]|[十百千万]几|好几|几乎|上[百千万]")
_BEFORE_TRIGGER = re.compile(r"([\u4e00-\u9fff]{2,8}?)(?:一年)?(?:的)?(?:是|有|为|要收|要)?(?:多少|几)")


def _asked_part(question: str) -> str:
    """The question without the asker's own story ("我们科室请了几位代表来开会，会后意见要怎么跟进？"
    asks how to follow up, not how many came) and without what it quotes ("“几力提升”具体叫啥")."""
    question = re.sub(r"“[^”]{1,30}”|\"[^\"]{1,30}\"", "“”", question)
    return _without(_ROUGH_AMOUNT.sub("许多", question), _NARRATIVE)


def without_story(question: str) -> str:
    """The question without the clauses that say who the asker is ("我是淞南镇新来的工作人员，…"); the whole
    question when it is nothing else. What the asker heard or was told ("听说上海要搞成透明度最高的城市，"
    "领导让我把指导思想里的提法背熟") often is the topic, so it stays."""
    return _without(question, _ABOUT_ASKER)


def _without(question: str, story: re.Pattern[str]) -> str:
    clauses = re.split(r"(?<=[，,。；;！!？?])", question)
    asked = [c for c in clauses if not story.match(c.strip())]
    return "".join(asked) or question


def story_spans(question: str) -> list[tuple[int, int]]:
    """(start, end) of each clause of the asker's own story ("我老家在云南，…")."""
    spans, at = [], 0
    for clause in re.split(r"(?<=[，,。；;！!？?])", question):
        if _NARRATIVE.match(clause.strip()):
            spans.append((at, at + len(clause)))
        at += len(clause)
    return spans


def question_facets(question: str) -> list[Facet]:
    """Every facet the question asks for, most specific first ("由谁负责，什么时候完成？" asks two)."""
    question = _asked_part(question)
    facets = []
    for kind, pattern, label in _FACETS:
        if kind in ("count", "number") and _ITEMS_ASKED.search(question):
            continue  # "分了几个部分，分别是什么": the items are the answer, their number comes with them
        if pattern.search(question) and not (kind == "number" and facets):
            unit = next((u for u in ("工作日", "个月", "天", "次", "项", "版", "月") if u in question), None)
            facets.append(Facet(kind=kind, label=label, targets=_targets(question, kind), unit=unit,
                                prefer=_preferred(question, kind),
                                issued="印发" in question, day=bool(_DAY_ASKED.search(question)),
                                destination=bool(_DESTINATION_ASKED.search(question))))
    kinds = {f.kind for f in facets}
    if "basis" in kinds:   # the 文号 or title asked for is the referenced document's
        facets = [f for f in facets if f.kind not in ("doc_number", "title", "issuer", "date")]
    # "哪个单位印发的" and "主送哪些单位" name a unit without asking who is responsible.
    if kinds & {"issuer", "recipients", "person"} and not _RESPONSIBILITY.search(question):
        facets = [f for f in facets if f.kind != "units"]
    # "进博会的消息是哪个部门负责往外发的": who is responsible for sending something out, not who issued
    # the document, unless the document is what is sent ("这份要点是哪个部门负责印发的").
    elif {"issuer", "units"} <= kinds and not _DOCUMENT_NOUN.search(question):
        facets = [f for f in facets if f.kind != "issuer"]
    return facets


def _targets(question: str, kind: str) -> tuple[str, ...]:
    """Nouns that must be in a clause for it to answer a 多少-style question."""
    if kind not in ("number", "money"):
        return ()
    m = _BEFORE_TRIGGER.search(question)
    if not m:
        return ()
    noun = re.sub(r"^(?:政府网站|政务公开|工作|政府)", "", m.group(1)) or m.group(1)
    return (noun[-3:] if len(noun) > 3 else noun,)


def _preferred(question: str, kind: str) -> tuple[str, ...]:
    """For a referenced document, the places the question names (聊城 of "提到的聊城市要点")."""
    if kind != "basis":
        return ()
    return tuple(re.sub(r"[省市区县镇]$", "", name) for _, name in places_in(question))


def row_units(clause: Clause) -> str:
    """A task-table row's 责任单位 as written: its second line, less the deadline after it."""
    tail = clause.text.split("\n")[-1] if "\n" in clause.text else ""
    deadline = clause.deadline or ""
    return tail[: -len(deadline)].strip() if deadline and tail.endswith(deadline) else tail


def _best(pattern: re.Pattern[str], sentence: str, facet: Facet, words: list[str]) -> str | None:
    """Of several candidate spans, the one with the asked unit, nearest to the question's words."""
    matches = list(pattern.finditer(sentence))
    if not matches:
        return None
    anchors = [m.end() for w in words for m in re.finditer(re.escape(w), sentence)]

    def score(m: re.Match[str]) -> tuple[int, int]:
        unit_ok = facet.unit is not None and facet.unit.replace("天", "日") in m.group(0).replace("天", "日")
        distance = min((abs(m.start() - a) for a in anchors), default=0)
        return (0 if unit_ok else 1, distance)

    return min(matches, key=score).group(0)


def _recipients_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    """Who a document is sent to: only its footer (抄送) or preamble (主送) says so."""
    if clause.kind == "footer":
        m = re.search(r"(?:抄送|抄报)\s*[:：]\s*(\S[^\n]*)", sentence)
        return m.group(1) if m else None
    if clause.kind == "preamble":
        m = next((m for m in (_RECIPIENTS.match(line.strip()) for line in sentence.split("\n")) if m), None)
        return m.group(1) if m else None
    return None


def _parenthesised_units(sentence: str) -> str | None:
    """The units in a "(责任单位:…)" group as written, if the sentence has one."""
    groups = units_in_parentheses(sentence)
    if not groups:
        return None
    m = re.search(r"[（(]([^（）()]*%s[^（）()]*)[）)]" % re.escape(groups[0]), sentence)
    if not m:
        return None
    # The units as written, without a "责任单位:" label or a "完成时限:…" after them.
    inner = m.group(1)
    start, end = inner.find(groups[0]), inner.rfind(groups[-1]) + len(groups[-1])
    return inner[start:end] if 0 <= start < end else inner


def _units_in_prose(sentence: str) -> str | None:
    """Units named in running text: "X牵头", else "X要…" or "组织X开展"."""
    m = _RESPONSIBLE.search(sentence)
    if m:
        # Of "A、B牵头" the last listed is the one the verb attaches to.
        return m.group(1).split("、")[-1]
    m = _ACTOR.search(sentence) or _PARTICIPANTS.search(sentence)
    return m.group(1) if m else None


def _units_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    """The responsible units, or where something goes when the question asks "向哪里"."""
    if facet.destination:
        m = _DESTINATION.search(sentence)
        return (m.group(1) or m.group(2)) if m else None
    if clause.kind == "table_row":
        return row_units(clause) or None
    # A clause that names its units in a "(责任单位:…)" group says who is responsible for all of it: that
    # group answers before any guess from the prose ("根据市政务公开办要求" names who asked, not who does it).
    return _parenthesised_units(sentence) or _parenthesised_units(clause.text) or _units_in_prose(sentence)


def _names_day(span: str) -> re.Match[str] | None:
    return re.search(r"[日号]|当天", span)


def _date_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    """A date: a task row's deadline, the footer's 印发 date, else the date nearest the question's words."""
    if clause.kind == "table_row" and clause.deadline:
        deadline = clause.deadline
        return deadline if not facet.day or _names_day(deadline) else None
    if facet.issued and clause.kind == "footer":
        m = re.search(r"(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*印发", sentence)
        return m.group(1) if m else None
    span = _best(_DATE, sentence, facet, list(words))
    # "8月几号" is not answered by "8月" (the span would be grounded but not the answer).
    return span if span and (not facet.day or _names_day(span)) else None


def _duration_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    # A time limit may be a length ("5个工作日") or a deadline ("6月底前"); "几个工作日" wants a length.
    if clause.kind == "table_row" and clause.deadline and not facet.unit:
        return clause.deadline       # the row's 时间节点/完成时限 column, whatever it says ("持续推进")
    length = _best(_DURATION, sentence, facet, list(words))
    return length or (None if facet.unit else _best(_DATE, sentence, facet, list(words)))


def _count_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    return _best(_COUNT, sentence, facet, list(words))


def _money_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    return _best(_MONEY, sentence, facet, list(words))


def _theme_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    # A quoted phrase is a theme only where the sentence says it is one.
    if "主题" not in sentence and "品牌" not in sentence:
        return None
    m = _QUOTED.search(sentence)
    return f"“{m.group(1)}”" if m else None


def _doc_number_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    m = re.search(r"[\u4e00-\u9fff]{1,8}\s*〔\s*\d{4}\s*〕\s*\d+\s*号", sentence)
    return m.group(0) if m else None


def _number_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    m = _NUMBER.search(sentence)
    return m.group(0).strip() if m and re.search(r"\d", m.group(0)) else None


_REFERENCED = re.compile(r"《[^《》]{4,80}》(?:\s*[(（][^()（）]{0,30}〔\s*\d{4}\s*〕[^()（）]{0,10}号\s*[)）])?")


def _basis_span(facet: Facet, sentence: str, clause: Clause, words) -> str | None:
    """The documents (plans, laws, regulations) the sentence says it follows, with their 文号: those naming an
    asked place if any does, else all of them (the run from the first to the last, verbatim)."""
    own = search_key(clause.doc_title or "")
    found = [m for m in _REFERENCED.finditer(sentence) if not own or search_key(m.group(0)[1:m.group(0).index("》")]) != own]
    named = [m for m in found if any(t and t in m.group(0) for t in facet.prefer)]
    found = named or found
    if not found:
        return None
    return sentence[found[0].start():found[-1].end()]


_SPAN_FINDERS = {
    "basis": _basis_span,
    "recipients": _recipients_span,
    "units": _units_span,
    "date": _date_span,
    "duration": _duration_span,
    "count": _count_span,
    "money": _money_span,
    "theme": _theme_span,
    "doc_number": _doc_number_span,
    "number": _number_span,
}


def find_span(facet: Facet, sentence: str, clause: Clause, words: list[str] = ()) -> str | None:
    """The verbatim span of `sentence` that answers `facet`, if there is one."""
    # person, place, issuer and title have no finder: the documents name no people or venues,
    # and a guessed one would be passed off as the answer.
    finder = _SPAN_FINDERS.get(facet.kind)
    return finder(facet, sentence, clause, words) if finder else None
