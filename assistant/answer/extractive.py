"""Extractive, grounded answers: every sentence of the body is taken verbatim from a cited clause.

Shapes of answer:
- refusal: the fixed REFUSAL sentence and what the corpus contains; no citations;
- factoid: "答：<span>[n]" then the sentence it was found in;
- one document: the sentences of its best clauses that answer the question, in document order;
- several documents (no place named, the topic in several): one section per document, then the
  requirements two or more documents share ("共同要求");
- not stated: the named document does not state the asked-for detail; say so, and name where
  another document states it.
"""

from __future__ import annotations


from assistant.answer import messages
from assistant.answer.metadata import (METADATA_FACETS, document_facts, element_labels, infobar_labels,
                                       title_as_stated)
from assistant.answer.lines import (AnswerLine, direct_line, fact_line, not_stated_line, quoted, row_line, said,
                                    section, shared_line, title_section)
from assistant.answer.mentions import mention_hits
from assistant.answer.records import Answer, CitationList, join_cited, similarity
from assistant.answer.refusal import refusal_text
from assistant.query.facets import Facet, find_span, row_units
from assistant.answer.sentences import ONLY_UNITS, SentenceChoice
from assistant.answer.structure import structure_lines
from assistant.query.kinds import asks_requirement, asks_task_count
from assistant.query.understand import Query
from assistant.retrieve.hybrid import Hit, HybridRetriever, SearchResult
from assistant.ingest.searchkey import bigrams, compact, search_key
from assistant.ingest.structure import sentences
from assistant.ingest.metadata import meta_of

WIDE_QTYPES = ("requirement", "list", "yes_no")   # answered with every on-topic sentence


class ExtractiveAnswerer(SentenceChoice):
    """Builds answers from a search result, using only sentences of the retrieved clauses."""

    def __init__(self, retriever: HybridRetriever) -> None:
        self.retriever = retriever
        self.documents = retriever.documents
        self.settings = retriever.settings

    # --- the shapes of answer ------------------------------------------------------------------

    def answer(self, question: str, result: SearchResult, *, rewritten: str | None = None,
               avoid_sentences: set[str] = frozenset()) -> Answer:
        """`avoid_sentences`: already given in this conversation ("还有别的要求吗？")."""
        rewritten = rewritten or question
        avoid = frozenset(compact(s) for s in avoid_sentences)
        hits = result.hits
        base = dict(question=question, rewritten_question=rewritten, scope=result.scope.doc_ids,
                    retrieved=[{"clause_id": h.clause_id, "doc_id": h.doc_id, "score": round(h.score, 5),
                                "text": h.clause.text} for h in result.hits],
                    timings_ms=dict(result.timings_ms))
        # A result built by hand (tests, the language-model mode's fallbacks) is read here once.
        query = result.query or self.retriever.understanding.understand(rewritten)
        answer = self._about_the_document(query, base)
        if answer is not None:
            return answer
        mentioned = mention_hits(query, self.retriever)   # "哪些文件提到了X": the documents holding X
        if not hits or not (result.relevant or mentioned):
            return Answer(lines=[AnswerLine.of("refusal", said(refusal_text(result.scope, self.documents)))], refused=True,
                          citations=[], kind="refusal",
                          notes=[result.reason], **base)
        words, facets = query.content_words, query.facets
        facet = facets[0] if facets else None
        cites = CitationList(self.documents)

        docs = self._cross_doc_documents(result, hits, words, mentioned)
        # "哪份文件…": the answer names its document(s), even when only one says it.
        if len(docs) >= 2 or (docs and query.qtype == "which_documents"):
            return self._cross_doc(docs, words, facet, cites, base, avoid, which=query.qtype == "which_documents")
        if facet is not None:
            # Each facet of a multi-part question is answered or said to be absent; the first one
            # found leads.
            found_by = [(f, self._find_facet(f, self._facet_candidates(f, hits), words)) for f in facets]
            lead = next(((f, x) for f, x in found_by if x is not None), None)
            # A bare "多少/几" with no noun to count is too weak a reading to claim the document is
            # silent; the best clauses are shown instead.
            weak = all(f.kind == "number" and not f.targets for f in facets)
            if lead is None and weak:
                return self._single(hits, words, cites, base, avoid)
            # Nor when the question also asks what the plan requires ("有几条涉及公开的规定，审核应该怎么走？
            # 有什么要求？"): the requirement is its main ask, and the clause answers that.
            if lead is None and asks_requirement(query.rewrite):
                return self._single(hits, words, cites, base, avoid, wide=True)
            if lead is None:
                return self._not_stated(rewritten, result, facet, hits, words, cites, base)
            facet, (hit, sentence, span) = lead
            others = [f for f in facets if f is not facet]
            n = cites.cite(hit, sentence)
            lines = [direct_line(span, n)]
            if compact(sentence) != compact(span):
                lines.append(AnswerLine.of("basis", said(messages.BASIS), quoted(sentence, n)))
            lines.extend(self._more_facts(hit, [facet] + others, span, sentence, words, n))
            lines.extend(self._other_facets(found_by, facet, lines, cites, result))
            row = self._matching_row(hit, hits[:6]) if hit.clause.kind == "item" and facet.kind == "units" else None
            if row is not None:
                lines.extend(self._more_facts(row, facets, span, sentence, words, cites.cite(row)))
            for extra in ([] if hit.named else self._same_doc_hits(hits, hit)[:1]):
                if self.retriever.coverage(words, [extra], weighted=True) < self.settings.answer.extra_min_coverage:
                    continue
                more = [s for s in self.pick_sentences(extra.clause, words, 1) if compact(s) not in compact(sentence)]
                if more and not self._duplicate(more[0], lines):
                    lines.append(AnswerLine.of("sentence", quoted(more[0], cites.cite(extra, more[0]))))
            return Answer(lines=lines, refused=False, citations=cites.items, direct=span,
                          kind="factoid", **base)
        return self._single(hits, words, cites, base, avoid, wide=query.qtype in WIDE_QTYPES)

    def _about_the_document(self, query: Query, base: dict) -> Answer | None:
        """A question about the named document itself (its metadata, its structure), when it has the answer."""
        if query.qtype == "metadata" and query.scope.covered and query.scope.doc_ids:
            return self._metadata(query, base)
        if query.qtype == "structure" and query.scope.covered and query.scope.doc_ids:
            return self._structure(query, base)
        return None

    def _structure(self, query: Query, base: dict) -> Answer | None:
        """Each named document's parts or number of tasks, from its outline (structure.py); a section per
        document when several are named ("浦东 松江 任务分解表 各多少条")."""
        cites = CitationList(self.documents)
        lines = structure_lines(query.scope.doc_ids, self.documents, self.retriever.clauses_of, self.retriever.hit_for,
                                cites, task_count=asks_task_count(query.rewrite))
        if not lines:
            return None
        return Answer(lines=lines, refused=False, citations=cites.items, kind="structure", **base)

    def _other_facets(self, found_by: list[tuple[Facet, tuple[Hit, str, str] | None]], lead: Facet,
                      lines: list[AnswerLine], cites: CitationList, result: SearchResult) -> list[AnswerLine]:
        """A line for each further facet the lead sentence did not answer: its own span, or that the
        document does not state it."""
        text = "".join(line.text for line in lines)
        given = compact(text)
        out: list[AnswerLine] = []
        for other, found in found_by:
            if other is lead or other.kind == lead.kind or f"{other.label}：" in text:
                continue
            if found is not None:
                hit, sentence, span = found
                if compact(span) in given:
                    continue
                out.append(fact_line(other.label, span, cites.cite(hit, sentence)))
            else:
                scope_docs = result.scope.doc_ids or [lines and result.hits[0].doc_id]
                label = "、".join(meta_of(self.documents, d).place or d for d in scope_docs)
                out.append(not_stated_line(label, other.label))
        return out

    def _metadata(self, query: Query, base: dict) -> Answer | None:
        """文号, issuer, title, dates, 主送/抄送 of the named document(s), quoted from the clause
        that states each; "没有写明" for what a document does not state."""
        kinds = [k for k in query.facet_kinds if k in METADATA_FACETS] or \
            ([] if infobar_labels(query.rewrite) or element_labels(query.rewrite) else ["date"])
        cites = CitationList(self.documents)
        lines: list[AnswerLine] = []
        found = False
        several = len(query.scope.doc_ids) > 1
        for doc_id in query.scope.doc_ids:
            meta = meta_of(self.documents, doc_id)
            label = meta.place or meta.title or doc_id
            if several:
                lines.append(section("document", meta.title or doc_id))
            facts = document_facts(query.rewrite, kinds, meta, self.retriever.clauses_of(doc_id))
            for fact in facts:
                if fact.span is None:
                    lines.append(not_stated_line(label, fact.label))
                    continue
                found = True
                n = cites.cite(self.retriever.hit_for(fact.clause.id), fact.span)
                lines.append(direct_line(fact.span, n) if len(facts) == 1 else fact_line(fact.label, fact.span, n))
        if not lines:
            return None
        spans = [line for line in lines if line.kind == "direct"]
        direct = facts[0].span if len(query.scope.doc_ids) == 1 and len(facts) == 1 else None
        return Answer(lines=lines, refused=not found, citations=cites.items,
                      direct=direct if spans else None, kind="metadata" if found else "not_stated", **base)

    def _find_facet(self, facet: Facet, hits: list[Hit], words: list[str]) -> tuple[Hit, str, str] | None:
        """The first good clause with the asked-for span, in a sentence that is about the question."""
        top = max(h.score for h in hits)
        for hit in hits:
            # A referenced document (《…》(鲁政办发〔2021〕5号)) is unmistakable wherever it is; the 总体要求 naming it ranks low.
            if hit.score < top * self.settings.answer.clause_min_share and not hit.named and facet.kind != "basis":
                continue
            text_key = search_key(hit.clause.text + " ".join(hit.clause.heading_path))
            if facet.targets and not all(search_key(t) in text_key for t in facet.targets):
                continue
            overlap = {s: self.weight_of(s, words) for s in self._sentences(hit.clause)}
            best = max(overlap.values(), default=0)
            # The clause's own "(责任单位:…,完成时限:…)" line speaks for the whole clause, so it is read
            # whatever words it shares with the question.
            own = [s for s in overlap if ONLY_UNITS.match(s.strip())] if facet.kind in ("units", "date", "duration") else []
            for sentence in sorted(overlap, key=lambda s: -overlap[s]) + own:
                # A span in a sentence about something else is not the answer ("8月" of the open
                # month when the question asks when the 评选 ends).
                if sentence not in own and best and overlap[sentence] < self.settings.answer.span_sentence_min_share * best \
                        and hit.clause.kind in ("item", "intro", "closing"):
                    continue
                span = find_span(facet, sentence, hit.clause, words)
                if span:
                    return hit, sentence, span
        return None

    def _facet_candidates(self, facet: Facet, hits: list[Hit]) -> list[Hit]:
        """Where to look for the span: the body states units in context, a task-table row states the
        deadline, the footer the 印发 date."""
        top = hits[:4]
        if top and top[0].named:  # "第50项": that row is the answer's source
            return top
        if facet.kind == "date":
            if facet.issued:
                footer = [h for h in hits if h.clause.kind == "footer"]
                return footer + [h for h in top if h not in footer]
            # The notice's own date is the document's, never the date of a task in it.
            return [h for h in top if h.clause.kind != "preamble"]
        if facet.kind == "recipients":
            return top
        body_first = self._prefer_body(top, hits)
        return body_first + [h for h in top if h not in body_first]

    def _matching_row(self, body: Hit, hits: list[Hit]) -> Hit | None:
        """The task-table row that repeats (part of) a body clause, for its deadline."""
        body_bigrams = bigrams(body.clause.text)
        for hit in hits:
            if hit.doc_id == body.doc_id and hit.clause.kind == "table_row":
                task = bigrams(hit.clause.text.split("\n")[0])
                if task and len(task & body_bigrams) >= self.settings.answer.row_task_min_overlap * len(task):
                    return hit
        return None

    def _more_facts(self, hit: Hit, facets: list[Facet], span: str, sentence: str, words: list[str],
                    n: int) -> list[AnswerLine]:
        """A task-table row's units and deadline, and any further facet the question asks for."""
        clause = hit.clause
        if clause.kind == "table_row":
            number = hit.clause_id.rsplit("/", 1)[-1]
            return [row_line(number, row_units(clause), clause.deadline, n)]
        lines = []
        for extra in facets[1:]:
            other = find_span(extra, sentence, clause, words)
            if other and compact(other) != compact(span):
                lines.append(fact_line(extra.label, other, n))
        return lines

    def _same_doc_hits(self, hits: list[Hit], first: Hit) -> list[Hit]:
        return [h for h in hits[1:4] if h.doc_id == first.doc_id and h.clause_id != first.clause_id
                and h.score >= hits[0].score * self.settings.answer.clause_min_share]

    def _duplicate(self, sentence: str, lines: list[AnswerLine]) -> bool:
        """Already said: table rows repeat the body's tasks word for word. (The near-duplicate test
        compares with the lines' sentences as shown, marks included, as it always has.)"""
        given = compact("".join(line.text for line in lines))
        return compact(sentence) in given or any(
            similarity(sentence, other) > self.settings.answer.duplicate_min_similarity for line in lines for other in sentences(line.render()))

    def _prefer_body(self, chosen: list[Hit], hits: list[Hit]) -> list[Hit]:
        """A task-table row repeats a body task in short; for an open question cite the body."""
        out: list[Hit] = []
        for hit in chosen:
            if hit.clause.kind == "table_row":
                task = bigrams(hit.clause.text.split("\n")[0])
                body = next((h for h in hits if h.doc_id == hit.doc_id and h.clause.kind == "item"
                             and task and len(task & bigrams(h.clause.text))
                             >= self.settings.answer.row_task_min_overlap * len(task)), None)
                hit = body or hit
            if hit not in out:
                out.append(hit)
        return out

    def _single(self, hits: list[Hit], words: list[str], cites: CitationList, base: dict,
                avoid: frozenset[str], wide: bool = False) -> Answer:
        """One document's answer; `wide` (a requirement or list question) takes every on-topic
        sentence of each chosen clause instead of the best few."""
        # The notice (preamble) and the footer name the place, title and offices that every question
        # repeats; they answer a content question only when they hold the question's own words.
        first = next((h for h in hits[:3] if h.clause.kind not in ("preamble", "footer")
                      or self.retriever.coverage(words, [h], weighted=True) >= self.settings.retrieval.min_coverage), hits[0])
        hits = [first] + [h for h in hits if h is not first]
        # Further clauses only when they are about the question too, not merely close in score.
        chosen = [first] + [h for h in hits[1:self.settings.retrieval.top_k] if h.doc_id == first.doc_id
                            and h.score >= first.score * self.settings.answer.clause_min_share
                            and self.retriever.coverage(words, [h], weighted=True) >= self.settings.answer.extra_min_coverage][:2]
        chosen = self._prefer_body(chosen, hits)
        chosen += [h for h in [self._best_sentence_elsewhere(chosen, hits, words)] if h is not None]
        first = chosen[0]
        label = meta_of(self.documents, first.doc_id).place or first.clause.doc_title
        # A weak match is shown as the closest clause, never framed as the answer.
        weak = self.retriever.coverage(words, chosen, weighted=True) < self.settings.answer.closest_below_coverage \
            and first.dense < self.settings.answer.closest_below_dense
        lines = [AnswerLine.of("heading", said((messages.CLOSEST if weak else messages.ACCORDING_TO).format(label=label)))]
        for hit in chosen:
            chosen_sentences = self.topic_sentences(hit.clause, words, avoid) if wide \
                else self.pick_sentences(hit.clause, words, avoid=avoid)
            picked = [s for s in chosen_sentences if not self._duplicate(s, lines)]
            if picked:
                n = cites.cite(hit)
                for s in picked:
                    cites.cite(hit, s)
                lines.append(AnswerLine.of("sentence", *join_cited(picked, n), bullet=True))
        return Answer(lines=lines, refused=False, citations=cites.items,
                      kind="closest" if weak else "extractive", **base)

    def _cross_doc_documents(self, result: SearchResult, hits: list[Hit], words: list[str],
                             mentioned: list[list[Hit]]) -> list[list[Hit]]:
        """Per document, its relevant hits, best document first — when no single place is asked.
        Documents the question names ("松江区和白鹤镇…分别") each get a section with their best hits;
        `mentioned` (the documents holding the words a which-documents question asks about) comes first."""
        if len(result.scope.doc_ids) == 1:
            return []
        if mentioned:
            return mentioned
        by_doc: dict[str, list[Hit]] = {}
        if len(result.scope.doc_ids) >= 2:
            for hit in hits:
                if hit.doc_id in result.scope.doc_ids and len(by_doc.get(hit.doc_id, [])) < 2:
                    by_doc.setdefault(hit.doc_id, []).append(hit)
            return list(by_doc.values())
        top = hits[0].score
        for hit in hits:
            if hit.score < top * self.settings.answer.cross_doc_min_share:
                continue
            if self.retriever.coverage(words, [hit]) < self.settings.answer.topic_min_coverage:
                continue
            by_doc.setdefault(hit.doc_id, []).append(hit)
        return list(by_doc.values())

    def _cross_doc(self, docs: list[list[Hit]], words: list[str], facet: Facet | None, cites: CitationList,
                   base: dict, avoid: frozenset[str], which: bool = False) -> Answer:
        lines: list[AnswerLine] = []
        picked_by_doc: list[tuple[str, str, int]] = []   # (doc_id, sentence, citation n)
        spans: list[tuple[str, str, int]] = []            # (doc_id, direct span, citation n)
        for doc_hits in docs:
            first = doc_hits[0]
            lines.append(self._title_section(first, cites) if which else section("document", first.clause.doc_title))
            section_start = len(lines)
            found = self._find_facet(facet, doc_hits[:2], words) if facet else None
            if found:
                hit, sentence, span = found
                n = cites.cite(hit, sentence)
                spans.append((hit.doc_id, span, n))
                lines.append(direct_line(span, n))
                lines.append(AnswerLine.of("sentence", quoted(sentence, n), bullet=True))
                picked_by_doc.append((hit.doc_id, sentence, n))
                continue
            for hit in self._prefer_body([h for h in doc_hits[:2] if h is first or h.score >= first.score * self.settings.answer.clause_min_share],
                                         doc_hits):
                # Dedupe within the document only: another document saying the same is the point.
                # Without a facet, "各自强调了什么" asks all each plan says on the topic (as for one plan).
                chosen = self.topic_sentences(hit.clause, words, avoid) if facet is None \
                    else self.pick_sentences(hit.clause, words, avoid=avoid)
                picked = [s for s in chosen if not self._duplicate(s, lines[section_start:])]
                if not picked:
                    continue
                n = cites.cite(hit)
                for s in picked:
                    cites.cite(hit, s)
                    picked_by_doc.append((hit.doc_id, s, n))
                lines.append(AnswerLine.of("sentence", *join_cited(picked, n), bullet=True))
        shared = self._shared_spans(spans) + self._shared(picked_by_doc)
        if shared:
            lines.append(AnswerLine.of("heading", said(messages.SHARED_HEADER)))
            lines.extend(shared)
        return Answer(lines=lines, refused=False, citations=cites.items, kind="cross_doc", **base)

    def _title_section(self, hit: Hit, cites: CitationList) -> AnswerLine:
        span, clause = title_as_stated(meta_of(self.documents, hit.doc_id), self.retriever.clauses_of(hit.doc_id))
        if span is None or clause is None:
            return section("document", hit.clause.doc_title)
        return title_section(span, cites.cite(self.retriever.hit_for(clause.id), span))

    @staticmethod
    def _shared_spans(spans: list[tuple[str, str, int]]) -> list[AnswerLine]:
        """Direct answers two or more documents give alike ("8月" and "8 月" are one)."""
        by_key: dict[str, list[tuple[str, str, int]]] = {}
        for item in spans:
            by_key.setdefault(compact(item[1]), []).append(item)
        return [shared_line(group[0][1], sorted({n for _, _, n in group}), len({d for d, _, _ in group}), direct=True)
                for group in by_key.values() if len({d for d, _, _ in group}) >= 2]

    def _shared(self, picked: list[tuple[str, str, int]]) -> list[AnswerLine]:
        """Requirements stated by two or more documents: near-identical sentences grouped."""
        groups: list[list[tuple[str, str, int]]] = []
        for item in picked:
            for group in groups:
                if item[0] not in {g[0] for g in group} and similarity(item[1], group[0][1]) >= self.settings.answer.shared_min_similarity:
                    group.append(item)
                    break
            else:
                groups.append([item])
        out = []
        for group in sorted((g for g in groups if len({d for d, _, _ in g}) >= 2), key=lambda g: -len(g)):
            sentence = min((s for _, s, _ in group), key=len)
            numbers = sorted({n for _, _, n in group})
            out.append(shared_line(sentence, numbers, len({d for d, _, _ in group})))
        return out

    def _not_stated(self, question: str, result: SearchResult, facet: Facet, hits: list[Hit], words: list[str],
                    cites: CitationList, base: dict) -> Answer:
        """The asked-for detail is not in the scoped document(s): say so and point elsewhere."""
        scope_docs = result.scope.doc_ids or sorted({h.doc_id for h in hits[:3]})
        label = "、".join(meta_of(self.documents, d).place or d for d in scope_docs)
        lines = [not_stated_line(label, facet.label)]
        related = hits[0]
        near = self.pick_sentences(related.clause, words, 1)
        # Show the closest thing the document does say, when it is on the question's topic.
        on_topic = self.retriever.coverage(words, [related]) > self.settings.answer.topic_min_coverage or facet.kind in ("duration", "date", "count", "units")
        if near and on_topic:
            lines.append(AnswerLine.of("sentence", quoted(near[0], cites.cite(related, near[0]))))
        # A document chosen in the UI (or --doc) is a promise to answer from it alone: no pointers elsewhere.
        selected = result.query is not None and result.query.selected_doc is not None
        if result.scope.doc_ids and facet.kind not in ("person", "place") and not selected:
            elsewhere = self.retriever.search(result.query or question, exclude_docs=set(result.scope.doc_ids), k=6)
            if elsewhere.relevant:
                found = self._find_facet(facet, elsewhere.hits, words)
                if found and self.retriever.coverage(words, [found[0]]) >= self.settings.answer.topic_min_coverage:
                    hit, sentence, _ = found
                    other = meta_of(self.documents, hit.doc_id).place or hit.clause.doc_title
                    lines.append(AnswerLine.of("heading", said(messages.ELSEWHERE)))
                    lines.append(AnswerLine.of("sentence", said(messages.PER_DOCUMENT.format(label=other)),
                                               quoted(sentence, cites.cite(hit, sentence))))
        return Answer(lines=lines, refused=True, citations=cites.items, kind="not_stated", **base)
