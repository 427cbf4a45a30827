"""Step 5, answer: extractive answers quoted from the retrieved clauses with their citations (or an
optional language model whose citations are verified); every fixed sentence is in messages."""
