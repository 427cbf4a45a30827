"""What kind of answer a question wants, read from its wording and its facets.

- metadata: about the document itself (文号, issuer, title, 主送/抄送, when it was issued);
- which_documents: which documents (places) say or contain something;
- factoid: one or more facets (a date, a time limit, the responsible units …), or one thing asked
  by "什么" ("以什么为引领", "增设什么窗口");
- requirement: what the plan requires about a topic ("有什么要求", "怎么做"; also the default);
- yes_no: whether the plan requires or includes something;
- list: the items of an enumeration ("哪些渠道", "哪几类", "哪三个同步");
- structure: the document's own parts or the number of tasks its table lists.
"""

from __future__ import annotations

import re

from assistant.answer.metadata import element_labels, infobar_labels
from assistant.query.facets import Facet

QTYPES = ("requirement", "list", "factoid", "yes_no", "which_documents", "metadata", "structure")

_METADATA_FACETS = {"doc_number", "issuer", "title", "recipients"}
_DOCUMENT_DATE = re.compile(
    r"(?:什么时候|哪天|哪一天|何时|几月几[日号]|日期|时间)[^，。？]{0,6}(?:印发|发布|出台|下发|成文|签发|发文|通过|发的|发出|出的)"
    r"|(?:印发|发布|出台|下发|成文|签发|发文|落款)(?:的)?(?:日期|时间)|(?:印发|发布|成文|签发)于|落款(?:是|在)?(?:哪天|何时|什么时候)")
# "要点里…年度报告什么时候发布": a date of something the document is about, not of the document.
_INSIDE_DOCUMENT = re.compile(r"(?:要点|计划|方案|文件|通知)(?:里|中|当中|里面|提到|提出|规定|要求)")
_DOCUMENT_WORDS = re.compile(r"文件|要点|计划|方案|通知|本文|这份|那份|该文|任务分工|任务分解|〔\d{4}〕|成文")
_WHICH_DOCUMENTS = re.compile(
    r"哪(?:些|几份|份|个|几个)(?:文件|要点|计划|方案|地方|地区|区县?|镇|街道|单位的文件)"
    r"|哪几?份(?:里|中)?(?:都|也|还)?(?:提到|提及|写了|写到|说到|涉及|有)"
    r"|(?:谁家|哪里)(?:的文件)?(?:提到|提出|要求|写了)")
# About the document's own structure: its parts, or how many tasks its table lists.
_PARTS = re.compile(r"(?:分(?:成|为|了)?|包括|包含|有|共)(?:几|哪几|多少)个?大?(?:部分|板块|大块|章)"
                    r"|(?:框架|大纲|提纲|整体结构)(?:是|怎么|怎样|如何|什么)|(?:几|哪几)个?大?(?:部分|板块)")
_TASK_COUNT = re.compile(r"(?:分解表|分工表|任务表|任务清单)[^，,。？?]{0,8}?(?:多少|几)(?:项|条|个)"
                         r"|(?:一共|共|总共)(?:列了?|有|安排了?)?(?:多少|几)(?:项|条)(?:任务|工作)")
_YES_NO = re.compile(r"是否|要不要|需不需要|需要不需要|有没有|会不会|能不能|可不可以|是不是|算不算|用不用|该不该|吗[？?！!。]*$")
_REQUIREMENT = re.compile(r"要求|怎么做|如何做|怎样做|怎么办|(?:要|该|得)(?:做|干|搞)(?:啥|什么|哪些)|怎么处理|如何处理|怎么弄|措施|举措|做法|规定|安排|怎么搞|咋办|咋做|怎么抓|如何推进|怎么推进|有什么说法")
_LIST = re.compile(r"哪些|哪几|哪[两三四五六七八九十]|包括|包含|分别是|都有|几类|几个方面|哪方面")
_WHAT = re.compile(r"什么|啥|哪个|哪一|怎么选|怎么定")


# Asked outright, not merely named: "要求在什么时间之前完成" asks a date, "有什么要求" asks the requirement.
_REQUIREMENT_ASKED = re.compile(r"(?:有|提了|提出了?|作了|做了)(?:什么|哪些|啥)(?:具体)?(?:要求|规定|措施|举措)"
                                r"|(?:应该|应当|要|该)?(?:怎么|如何|怎样|咋)(?:走|做|办|弄|处理|操作|开展|落实)")


# "哪些文件提到了“政策解读提升年”", "哪几份提到京津冀协同发展": what the documents must say in so many words.
_MENTIONED = re.compile(r"(?:提到|提及|提出|写了|写到|说到|涉及)(?:了|过)?\s*(?:“(?P<quoted>[^”]{2,30})”"
                        r"|(?P<plain>[^，,。？?“”]{2,16}?))(?:的|这)?(?:内容|事情?|工作|要求|说法)?(?:吗|呢)?[？?。!！]*$")


def mentioned_phrase(question: str) -> str | None:
    """The words a which-documents question asks to find in the documents, quoted or not."""
    quoted = re.findall(r"“([^”]{2,30})”", question)
    if quoted:
        return quoted[0]
    m = _MENTIONED.search(question)
    return (m.group("quoted") or m.group("plain")) if m else None


def asks_requirement(question: str) -> bool:
    """Whether the question (also) asks what the plan requires ("…应该怎么走？有什么要求？")."""
    return bool(_REQUIREMENT_ASKED.search(question))


def asks_structure(question: str) -> bool:
    return bool(_PARTS.search(question) or _TASK_COUNT.search(question))


def asks_task_count(question: str) -> bool:
    return bool(_TASK_COUNT.search(question))


def question_type(question: str, facets: list[Facet]) -> str:
    """One of QTYPES (see the module docstring); the first rule that applies wins."""
    kinds = {f.kind for f in facets}
    if "basis" in kinds:
        return "factoid"   # what the plan follows is read from its text ("认真落实《…》(鲁政办发〔2021〕5号)")
    about_document_date = _DOCUMENT_DATE.search(question) and _DOCUMENT_WORDS.search(question) \
        and not _INSIDE_DOCUMENT.search(question)
    if kinds & _METADATA_FACETS or about_document_date \
            or infobar_labels(question) or element_labels(question):
        return "metadata"
    if _WHICH_DOCUMENTS.search(question):
        return "which_documents"
    if asks_structure(question):
        return "structure"
    if facets:
        return "factoid"
    if _REQUIREMENT.search(question):
        return "requirement"
    if _YES_NO.search(question):
        return "yes_no"
    if _LIST.search(question):
        return "list"
    if _WHAT.search(question):
        return "factoid"
    return "requirement"
