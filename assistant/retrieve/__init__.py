"""Step 4, retrieve: BM25 and dense legs fused into ranked clauses, with the relevance gate."""
