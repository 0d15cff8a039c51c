"""Compare two float32 logit files.

usage: compare_f32.py A B TOL [--top1 FRACTION [--vocab N]]
Exit 0 if max |a-b| <= TOL and, with --top1, the argmax of each row of N
logits agrees on at least FRACTION of the rows.
"""
import array
import sys

args = sys.argv[1:]
a = array.array("f")
b = array.array("f")
a.frombytes(open(args[0], "rb").read())
b.frombytes(open(args[1], "rb").read())
tol = float(args[2])
top1 = float(args[args.index("--top1") + 1]) if "--top1" in args else None
vocab = int(args[args.index("--vocab") + 1]) if "--vocab" in args else 512
if len(a) != len(b):
    print(f"length differs: {len(a)} vs {len(b)}")
    sys.exit(1)
err = max(abs(x - y) for x, y in zip(a, b))
ok = err <= tol
print(f"max abs error {err:.3g} (tolerance {tol:g})")
if top1 is not None:
    rows = len(a) // vocab
    agree = 0
    for r in range(rows):
        ra, rb = a[r * vocab:(r + 1) * vocab], b[r * vocab:(r + 1) * vocab]
        agree += max(range(vocab), key=ra.__getitem__) == max(range(vocab), key=rb.__getitem__)
    print(f"top-1 agreement {agree}/{rows}")
    ok = ok and agree >= top1 * rows
sys.exit(0 if ok else 1)
