#!/usr/bin/python3
"""PyTorch peer for the rnnkit char-LM benchmark.

Run with /usr/bin/python3 (Debian's python3-torch 1.13; the `python3` on PATH has no torch).

  /usr/bin/python3 bench/peers/pytorch_charlm.py --text /work/shared/data/tinyshakespeare.txt \
      --cell lstm --hidden 256 --layers 2 --threads 1 [--warmup 5 --steps 20 --reps 3 --min-ms 0 | --quick]
  /usr/bin/python3 bench/peers/pytorch_charlm.py --text ... --generate 500 --threads 1

Training: Embedding(V,64) -> RNN/LSTM/GRU(H, L layers, batch_first) -> Linear(H,V), B=32 random
windows of T=64 chars, cross-entropy mean over B*T, Adam lr 2e-3.
Generation (--generate N): LSTM h256 x2, random init, batch 1, greedy, one char per forward
with carried state; chars/s over N chars.

Prints exactly one JSON line on stdout; progress goes to stderr.

Threads: torch.set_num_threads(--threads) sizes torch's OpenMP pool, but Debian's torch does
its matmuls in OpenBLAS (pthread build), which sizes its own pool from the core count. Both
pools on 2 cores oversubscribe and run far slower, and with --threads 1 OpenBLAS would still
use 2 cores. So OPENBLAS_NUM_THREADS=1 is set here before torch is imported, unless the
caller already set it; the value in force is reported as "openblasThreads".
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

EMBED = 64
BATCH = 32
SEQ = 64


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--text", default="/work/shared/data/tinyshakespeare.txt")
    p.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="lstm")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--min-ms", type=float, default=0,
                   help="training's warm-up and each rep last at least this long")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--generate", type=int, default=0, metavar="N",
                   help="generation benchmark over N chars instead of training")
    p.add_argument("--quick", action="store_true", help="smoke test: warmup 1, steps 2, reps 1")
    a = p.parse_args()
    if a.quick:
        a.warmup, a.steps, a.reps, a.min_ms = 1, 2, 1, 0
    return a


args = parse_args()
# Must happen before `import torch`: OpenBLAS reads it once when the library loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class CharLM(nn.Module):
    def __init__(self, vocab, cell, hidden, layers):
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED)
        rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(EMBED, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        y, state = self.rnn(self.embed(x), state)
        return self.head(y), state


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "reps": values}


def peak_rss_mb():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_bench(data, vocab):
    model = CharLM(vocab, args.cell, args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()  # mean over all B*T positions
    gen = torch.Generator().manual_seed(args.seed)
    offsets = torch.arange(SEQ + 1)

    def step():
        starts = torch.randint(0, len(data) - SEQ - 1, (BATCH,), generator=gen)
        window = data[starts[:, None] + offsets]  # [B, T+1]
        x, y = window[:, :-1], window[:, 1:]
        logits, _ = model(x)
        loss = loss_fn(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()  # .item() also makes sure the step has really finished

    def timed(count):
        """ms per step over at least `count` steps and --min-ms (bench/timing.ts's rule)."""
        nonlocal loss
        t0, calls, elapsed = time.perf_counter(), 0, 0.0
        while calls < count or elapsed < args.min_ms:
            loss = step()
            calls += 1
            elapsed = (time.perf_counter() - t0) * 1000
        return elapsed / calls

    loss = None
    timed(args.warmup)
    reps = []
    for r in range(args.reps):
        ms = timed(args.steps)
        reps.append(ms)
        log(f"rep {r + 1}/{args.reps}: {ms:.2f} ms/step, loss {loss:.4f}")
    ms = stats(reps)
    return {
        "peer": "pytorch", "torch": torch.__version__, "threads": args.threads,
        "openblasThreads": os.environ["OPENBLAS_NUM_THREADS"],
        "cell": args.cell, "hidden": args.hidden, "layers": args.layers,
        "batch": BATCH, "seq": SEQ, "warmup": args.warmup, "steps": args.steps,
        "msPerStep": ms, "charsPerSec": BATCH * SEQ / (ms["median"] / 1000),
        "lastLoss": loss, "peakRssMB": peak_rss_mb(),
    }


def generate_bench(vocab):
    model = CharLM(vocab, "lstm", 256, 2).eval()

    def run(n):
        x = torch.zeros(1, 1, dtype=torch.long)
        state = None
        for _ in range(n):
            logits, state = model(x, state)
            x = logits[:, -1].argmax(-1, keepdim=True)  # greedy; [1, 1]
        return int(x)

    with torch.no_grad():
        run(args.warmup)
        reps = []
        for r in range(args.reps):
            t0 = time.perf_counter()
            run(args.generate)
            s = time.perf_counter() - t0
            reps.append(args.generate / s)
            log(f"rep {r + 1}/{args.reps}: {reps[-1]:.0f} chars/s")
    return {
        "peer": "pytorch", "task": "generate", "torch": torch.__version__,
        "threads": args.threads, "openblasThreads": os.environ["OPENBLAS_NUM_THREADS"],
        "cell": "lstm", "hidden": 256, "layers": 2, "batch": 1, "chars": args.generate,
        "charsPerSec": statistics.median(reps),
        "charsPerSecReps": {"min": min(reps), "max": max(reps), "reps": reps},
        "peakRssMB": peak_rss_mb(),
    }


def main():
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, vocab {len(chars)}")
    if args.generate:
        result = generate_bench(len(chars))
    else:
        data = torch.tensor([index[c] for c in text], dtype=torch.long)
        result = train_bench(data, len(chars))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
