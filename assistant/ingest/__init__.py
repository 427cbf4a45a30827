"""Step 1, ingest: a file (txt, docx, pdf, html, md) -> clean text -> a `Document` of clauses with metadata.

readers (one file format each) -> normalize -> structure (numbering, tables, run-in headings) ->
metadata (places, info bars, overrides); `corpus` lists and parses the corpus folder.
"""
