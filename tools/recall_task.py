"""The retrieval task of droidspeak's model family: look a C macro's value up by its name.

A context is a run of consecutive `#define NAME VALUE` records taken from one C header (the
project's code corpus, Debian's libc6-dev and linux-libc-dev), written one per line exactly
as `#define NAME VALUE`. The question names one of them; the answer is its value, which can
only be found in the context:

    context   "#define N_UNDF 0\\n#define N_ABS 2\\n#define N_TEXT 4\\n..."
    question  "Q: N_TEXT\\nA: "
    answer    "4"                 (the receiver generates it, then a newline)

Used by tools/train_family.py to train the task fine-tune `ft-recall` (training headers only)
and to write examples/data/recall_{profile,heldout}.jsonl (held-out headers only), in the QA
samples format that `droidspeak profile/compare --measure f1|exact` read.
"""

import json
import os
import re

import numpy as np
import torch

# A record: `#define NAME VALUE` on one line, VALUE short and self-contained (no line
# continuation, no comment, no nested quotes), so that the answer is one line of ASCII.
_DEFINE = re.compile(rb"^#define[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]+(.+?)[ \t]*$")
_MAX_VALUE = 24
RECORDS_PER_CONTEXT = (4, 12)  # inclusive range of records in one context
# A whole row (context + question + answer + newline) fits the models' training window
# (train_family.WINDOW bytes): the sender `base` never saw a position beyond it, so a longer
# context would measure its extrapolation, not the reuse of its cache.
MAX_ROW_BYTES = 256


def _clean_value(v):
    if b"/*" in v or b"*/" in v or b"//" in v or v.endswith(b"\\"):
        return None
    if len(v) > _MAX_VALUE or not all(32 <= c < 127 for c in v):
        return None
    return v.decode("ascii")


def records_of(data):
    """The eligible records of one header, in file order: [(name, value)] (ASCII strings).
    Only names defined once in the file are kept, so every question has one answer."""
    out, seen = [], {}
    for line in data.split(b"\n"):
        m = _DEFINE.match(line)
        if not m:
            continue
        name = m.group(1).decode("ascii")
        seen[name] = seen.get(name, 0) + 1
        v = _clean_value(m.group(2))
        # `#define IFF_UP IFF_UP` answers itself: keep only values that must be looked up
        if v is not None and name not in v:
            out.append((name, v))
    return [(n, v) for n, v in out if seen[n] == 1]


def files_with_records(docs, min_records=RECORDS_PER_CONTEXT[0]):
    """[(path, records)] for the headers with at least `min_records` eligible records."""
    out = []
    for path, data in docs:
        r = records_of(data)
        if len(r) >= min_records:
            out.append((path, r))
    return out


def example(records, start, count, asked):
    """One QA example over records[start:start+count], asking for record `asked` of them."""
    run = records[start:start + count]
    context = "".join("#define %s %s\n" % (n, v) for n, v in run)
    name, value = run[asked]
    return {"context": context, "question": "Q: %s\nA: " % name, "answer": value}


def row_bytes(e):
    return len(e["context"]) + len(e["question"]) + len(e["answer"]) + 1


def fitted_example(records, start, count, asked_of):
    """The example over the most records from `start` (at most `count`, at least
    RECORDS_PER_CONTEXT[0]) whose row fits MAX_ROW_BYTES, asking record asked_of(count) of
    them; None when not even the fewest fit."""
    while count >= RECORDS_PER_CONTEXT[0]:
        e = example(records, start, count, asked_of(count))
        if row_bytes(e) <= MAX_ROW_BYTES:
            return e
        count -= 1
    return None


def random_example(files, rng):
    lo, hi = RECORDS_PER_CONTEXT
    for _ in range(1000):  # bounded: almost every draw fits at once
        _, records = files[rng.randint(0, len(files))]
        count = rng.randint(lo, min(hi, len(records)) + 1)
        start = rng.randint(0, len(records) - count + 1)
        asked = rng.randint(0, count)
        e = fitted_example(records, start, count, lambda c: min(asked, c - 1))
        if e is not None:
            return e
    raise SystemExit("recall task: no run of records fits %d bytes" % MAX_ROW_BYTES)


class TaskBatches:
    """Training batches of task examples: each row is context + question + answer + "\\n",
    right-padded to the longest row; padded positions are ignored by the loss (-100)."""

    def __init__(self, files, seed):
        if not files:
            raise SystemExit("recall task: no header has enough #define records")
        self.files = files
        self.rng = np.random.RandomState(seed)

    def batch(self, bsz):
        rows = []
        for _ in range(bsz):
            e = random_example(self.files, self.rng)
            rows.append((e["context"] + e["question"] + e["answer"] + "\n").encode("ascii"))
        T = max(len(r) for r in rows)
        x = torch.zeros((bsz, T - 1), dtype=torch.int64)
        y = torch.full((bsz, T - 1), -100, dtype=torch.int64)
        for i, r in enumerate(rows):
            t = torch.tensor(list(r), dtype=torch.int64)
            x[i, :len(r) - 1] = t[:-1]
            y[i, :len(r) - 1] = t[1:]
        return x, y


def heldout_examples(files, n):
    """n deterministic examples spread over the held-out headers: one context per file in
    turn (evenly spaced files, then consecutive runs inside them, each as long as fits),
    asking a record chosen by a fixed rule (not the first or the last), so profile and
    heldout never share text."""
    out = []
    lo, hi = RECORDS_PER_CONTEXT
    at = [0] * len(files)  # where each file's next run starts
    j = 0
    while len(out) < n:
        added = False
        for fi, (_, records) in enumerate(files):
            e = None
            while e is None and at[fi] + lo <= len(records) and len(out) < n:
                count = min(hi, len(records) - at[fi])
                e = fitted_example(records, at[fi], count, lambda c: 1 + (fi * 7 + j * 3) % (c - 2))
                if e is None:
                    at[fi] += 1  # a record too long for any run: step past it
                else:
                    at[fi] += e["context"].count("\n")
            if e is not None:
                out.append(e)
                added = True
        if not added:
            raise SystemExit("recall task: the held-out headers hold only %d contexts, %d asked"
                             % (len(out), n))
        j += 1
    return out


def write_qa_samples(data_dir, val_docs, n=16):
    """examples/data/recall_profile.jsonl and recall_heldout.jsonl: n samples each, from the
    held-out headers; alternate examples go to profile / heldout."""
    files = files_with_records(val_docs)
    ex = heldout_examples(files, 2 * n)
    written = {}
    for kind, lst in (("profile", ex[0::2]), ("heldout", ex[1::2])):
        p = os.path.join(data_dir, "recall_%s.jsonl" % kind)
        with open(p, "w") as f:
            for e in lst:
                f.write(json.dumps(e) + "\n")
        written[p] = len(lst)
    return written


@torch.no_grad()
def greedy_answers(model, examples, max_extra=8, device="cpu"):
    """The model's greedy answers (stopping at a newline), one per example: a quick exact-match
    check for the training log; the project's scoring is `droidspeak compare --measure f1`."""
    model.eval()
    answers = []
    for e in examples:
        ids = list((e["context"] + e["question"]).encode("ascii"))
        out = []
        for _ in range(len(e["answer"]) + max_extra):
            logits = model(torch.tensor([ids], dtype=torch.int64, device=device))
            nxt = int(logits[0, -1].argmax())
            if nxt == 10:
                break
            out.append(nxt)
            ids.append(nxt)
        answers.append(bytes(out).decode("latin-1"))
    model.train()
    return answers
