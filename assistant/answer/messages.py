"""Fixed wording shared by the code, the UI and the tests.

The extractive answer's body is taken from the documents; the only words of our own are the
templates below, so a reviewer can check them all in one place.
"""

from __future__ import annotations

# The one refusal sentence. A refusal never carries citations.
REFUSAL = "现有文件中没有找到能回答这个问题的内容。"

# "The named document does not state this" — used when another document does.
NOT_STATED = "{label}的文件中没有写明{facet}。"
ELSEWHERE = "其他文件中的相关规定："

DIRECT = "答：{span}{cite}"
BASIS = "依据："
ACCORDING_TO = "根据{label}的文件："
# A weak match: shown with its citation, but not presented as the answer.
CLOSEST = "没有找到直接回答这个问题的条款；{label}的文件中最接近的条款是："
PER_DOCUMENT = "【{label}】"
PART = "【{part}】"   # one question of a multi-part question
SHARED_HEADER = "共同要求（两份及以上文件都提出的）："
SHARED_ITEM = "{sentence}{cite}（{count} 份文件）"
CORPUS_CONTAINS = "知识库现有文件：{documents}。"
UNKNOWN_PLACE = "知识库中没有{names}的文件。"
UNKNOWN_YEAR = "知识库中没有{years}的文件。"
RELATED_DOCS = "相近的文件：{documents}。"
REWRITTEN = "（按上文理解为：{question}）"

# Questions about a document's structure (structure.py).
OUTLINE = "《{title}》正文分为{count}个部分："
TASK_COUNT = "答：{count}项"   # the last row number of the task table

ROW_FACTS = "第{number}项 · 责任单位：{units} · 时间节点：{deadline}{cite}"
EXTRA_FACET = "{label}：{span}{cite}"

CITATION_MARK = "[{n}]"

EMPTY_QUESTION = "请输入问题。"
QUESTION_TOO_LONG = "问题太长（{length} 字），请精简到 {limit} 字以内。"
NO_TEXT_IN_QUESTION = "没有看懂这个问题：请用中文描述想了解的政务公开内容，例如“依申请公开办理有什么要求？”"


def cite(*numbers: int) -> str:
    return "".join(CITATION_MARK.format(n=n) for n in numbers)
