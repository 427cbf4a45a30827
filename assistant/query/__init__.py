"""Question understanding: (question, history, selected document) -> one typed `Query`
(assistant.query.understand), computed once per question and read by retrieval and answer
composition; nothing downstream re-derives the question's type, facets, scope or content words.

normalize (OpenCC, widths, misspellings) -> followup (standalone rewrite) -> scope (documents,
places, years; gazetteer for places the corpus lacks) -> kinds (question type) -> thesaurus.
"""
