"""The refusal: the fixed sentence, what the question named that the corpus lacks, and what the corpus holds."""

from __future__ import annotations

from assistant.answer import messages
from assistant.ingest.metadata import DocumentMeta
from assistant.query.scope import Scope


def refusal_text(scope: Scope, documents: dict[str, DocumentMeta]) -> str:
    parts = [messages.REFUSAL]
    if scope.unknown_places:
        parts.append(messages.UNKNOWN_PLACE.format(names="、".join(scope.unknown_places)))
    if scope.unknown_years:
        parts.append(messages.UNKNOWN_YEAR.format(years="、".join(f"{y}年" for y in scope.unknown_years)))
    if scope.related_docs:
        parts.append(messages.RELATED_DOCS.format(
            documents="、".join(documents[d].title or d for d in scope.related_docs if d in documents)))
    parts.append(messages.CORPUS_CONTAINS.format(documents="；".join(
        f"{m.title or d}（{m.issuer or m.place or '发文单位未写明'}）" for d, m in documents.items())))
    return "".join(parts)
