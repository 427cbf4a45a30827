"""A chat session keeps a bounded history (assistant/app/web/session.py): fast, no server."""

from __future__ import annotations

from assistant.app.web.session import AnswerRecord, ChatSession


def _session_with(turns: int) -> ChatSession:
    s = ChatSession()
    for n in range(1, turns + 1):
        s.messages += [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n}"}]
        s.answers.append(AnswerRecord(n=n, msg_index=len(s.messages) - 1, question=f"q{n}", history=[], scope=None))
        s.conversation.record(f"q{n}", f"q{n}", [], [])
    s.selected = len(s.answers) - 1
    return s


def test_trim_keeps_the_last_turns_and_their_message_positions():
    s = _session_with(30)
    s.trim(20)
    assert len(s.answers) == 20 and len(s.messages) == 40 and len(s.conversation.turns) == 20
    assert s.messages[0]["content"] == "q11" and s.answers[0].question == "q11"
    for record in s.answers:                     # every record still points at its own answer
        assert s.messages[record.msg_index]["content"] == "a" + record.question[1:]
        assert s.record_for_message(record.msg_index - 1) == s.answers.index(record)
    assert s.current.question == "q30"


def test_trim_drops_a_selection_that_fell_out():
    s = _session_with(5)
    s.selected = 0
    s.trim(3)
    assert s.current is None
    s = _session_with(5)
    s.selected = 3
    s.trim(3)
    assert s.current.question == "q4"


def test_trim_is_a_no_op_under_the_limit():
    s = _session_with(3)
    s.trim(20)
    assert len(s.answers) == 3 and len(s.messages) == 6
