"""Step 2, index: clauses embedded (the bundled e5 model) into a FAISS store with a verified manifest;
jieba segmentation for the lexical leg."""
