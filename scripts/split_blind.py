"""Split eval/blind/all.jsonl once, at random, into dev (60 %) and the locked test split (40 %).

Run once when the set was written (seed fixed so the split can be checked, not redrawn):
    python scripts/split_blind.py
Tune only on dev.jsonl; test.jsonl is only ever scored.
"""

import random
from pathlib import Path

SEED = 20261202
DEV_SHARE = 0.6

root = Path(__file__).resolve().parent.parent / "eval" / "blind"
lines = [line for line in (root / "all.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
order = list(range(len(lines)))
random.Random(SEED).shuffle(order)
cut = round(len(lines) * DEV_SHARE)
for name, part in (("dev.jsonl", sorted(order[:cut])), ("test.jsonl", sorted(order[cut:]))):
    (root / name).write_text("".join(lines[i] + "\n" for i in part), encoding="utf-8")
    print(name, len(part), "items")
