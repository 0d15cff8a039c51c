#!/usr/bin/env python3
"""Tokenize the story corpus with the project's own tokenizer (`webaccel tokenize`)
into the binary streams training/train_llama.py reads. Standard library only.

Each story becomes BOS + tokens + EOS, where the tokens are exactly what
`webaccel run -p "<story start>"` would produce for the story on its own (a
leading "▁" on the first word). To tokenize thousands of stories per process
call, stories are joined with "\\n\\n " : the LLaMA-2 vocabulary has no piece
that spans a newline byte, so the two newline byte tokens (13 13) separate the
stories and the space after them gives the next story the same "▁Once" that a
fresh tokenization starts with. The script checks this on a sample.

Outputs (little-endian uint16; the vocabulary has 32000 ids):
  train.u16.xz   training stream, LZMA-compressed (the device upload is small)
  heldout.u16    held-out stream, same format
  ppl.u16        heldout-ppl.txt tokenized as one text with BOS, exactly the
                 ids `webaccel perplexity -f heldout-ppl.txt` evaluates
  ref.u16        3 reference sequences of 64 ids (the first held-out stories,
                 BOS first) for the golden logits
"""

import argparse
import array
import concurrent.futures
import lzma
import os
import subprocess
import sys

BOS, EOS, NL = 1, 2, 13
STORIES_PER_CALL = 2000
REF_SEQS, REF_LEN = 3, 64


def tokenize(webaccel, vocab, text, bos):
    cmd = [webaccel, "tokenize", "-m", vocab] + ([] if bos else ["--no-bos"])
    out = subprocess.run(cmd, input=text.encode("utf-8"), stdout=subprocess.PIPE, check=True).stdout
    return [int(t) for t in out.split()]


def tokenize_stories(webaccel, vocab, stories):
    ids = tokenize(webaccel, vocab, "\n\n ".join(stories), bos=False)
    out, cur = [], []
    i = 0
    while i < len(ids):
        if ids[i] == NL and i + 1 < len(ids) and ids[i + 1] == NL:
            out.append(cur)
            cur = []
            i += 2
        else:
            cur.append(ids[i])
            i += 1
    out.append(cur)
    if len(out) != len(stories):
        raise RuntimeError(f"split into {len(out)} stories, expected {len(stories)} (blank line inside a story?)")
    return out


def read_stories(path):
    with open(path, encoding="utf-8") as f:
        return [s for s in f.read().split("\n\n") if s.strip()]


def stream(webaccel, vocab, stories, workers=2):
    parts = [stories[i:i + STORIES_PER_CALL] for i in range(0, len(stories), STORIES_PER_CALL)]
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        results = list(ex.map(lambda p: tokenize_stories(webaccel, vocab, p), parts))
    seqs = [s for r in results for s in r]
    flat = array.array("H")
    for s in seqs:
        flat.append(BOS)
        flat.extend(s)
        flat.append(EOS)
    return flat, seqs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--webaccel", required=True)
    p.add_argument("--vocab", required=True)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    if sys.byteorder != "little":
        sys.exit("little-endian host expected")
    os.makedirs(a.out, exist_ok=True)

    train = read_stories(os.path.join(a.corpus, "train.txt"))
    held = read_stories(os.path.join(a.corpus, "heldout.txt"))
    # The join trick must give the same ids as tokenizing a story alone.
    for s in held[:5]:
        alone = tokenize(a.webaccel, a.vocab, s, bos=False)
        joined = tokenize_stories(a.webaccel, a.vocab, held[:5])[held.index(s)]
        if alone != joined:
            sys.exit("story tokenization depends on its neighbours; the join trick does not hold")

    h_flat, h_seqs = stream(a.webaccel, a.vocab, held, a.workers)
    with open(os.path.join(a.out, "heldout.u16"), "wb") as f:
        h_flat.tofile(f)
    ref = array.array("H")
    for s in h_seqs[:REF_SEQS]:
        seq = [BOS] + s
        if len(seq) < REF_LEN:
            sys.exit("reference story too short")
        ref.extend(seq[:REF_LEN])
    with open(os.path.join(a.out, "ref.u16"), "wb") as f:
        ref.tofile(f)
    with open(os.path.join(a.corpus, "heldout-ppl.txt"), encoding="utf-8") as f:
        ppl = array.array("H", tokenize(a.webaccel, a.vocab, f.read(), bos=True))
    with open(os.path.join(a.out, "ppl.u16"), "wb") as f:
        ppl.tofile(f)

    t_flat, t_seqs = stream(a.webaccel, a.vocab, train, a.workers)
    with lzma.open(os.path.join(a.out, "train.u16.xz"), "wb", preset=6) as f:
        f.write(t_flat.tobytes())
    print(f"train: {len(t_seqs)} stories, {len(t_flat)} tokens; held-out: {len(h_seqs)} stories, "
          f"{len(h_flat)} tokens; ppl text: {len(ppl)} tokens; vocabulary used: {len(set(t_flat))} ids")


if __name__ == "__main__":
    main()
