from __future__ import annotations

import pytest

from assistant.query.normalize import normalize_question


@pytest.mark.parametrize("typed,read", [
    ("政策解讀要同步發布嗎", "政策解读要同步发布吗"),               # traditional -> simplified
    ("閔行區民政局要求政務公開標準目錄跟什麼目錄融合？", "闵行区民政局要求政务公开标准目录跟什么目录融合？"),
    ("浦东的留言版怎么建设", "浦东的留言板怎么建设"),                 # a known misspelling of a field term
    ("目录编制研究 啥时后启动", "目录编制研究 啥时候启动"),           # a question word typed by pinyin
    ("开放月  几月   松江", "开放月 几月 松江"),                    # stray spaces collapse, keywords stay apart
    ("ＡＢＣ１２３号", "ABC123号"),                                  # full-width letters and digits
    ("松江区开放月在几月?", "松江区开放月在几月？"),                # punctuation stays full-width for display
])
def test_question_is_normalised(typed, read):
    assert normalize_question(typed) == read


def test_normalisation_is_idempotent():
    once = normalize_question("政策解讀 要同步發布嗎?")
    assert normalize_question(once) == once
