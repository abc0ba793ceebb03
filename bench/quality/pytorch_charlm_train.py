#!/usr/bin/python3
"""PyTorch reference for rnnkit's char-LM training quality (bench/quality/compare.ts).

Trains Embedding(V,E) -> LSTM|GRU(E,H,L, batch_first) -> Linear(H,V) with rnnkit's
`deno task train --text` protocol (apps/cli/charlm.ts, packages/core/src/data/text.ts):

- vocab: sorted distinct characters; train = the first len - floor(len * val_fraction)
  characters, val = the rest;
- a step: B windows of T characters at uniform offsets in [0, len(train) - T - 1], mean
  cross-entropy over all B*T positions, Adam(lr), clip_grad_norm_(clip) when clip > 0;
- validation after every --eval-interval steps and after the last: up to 256 windows of the
  val part as CharCorpus.validationStarts places them, each from a zero state, mean
  cross-entropy over all their positions.

torch.manual_seed(seed) before building the modules (in rnnkit's order: emb, rnn, fc) gives
the same initial weights as rnnkit's --seed; batches come from a separate torch generator, so
the batch stream differs from rnnkit's (its statistics do not).

Prints one JSON line {"train": [...], "val": [[step, loss], ...], "seconds": s} on stdout;
progress on stderr. Run with /usr/bin/python3 (torch 1.13).
"""

import argparse
import json
import os
import sys
import time

VAL_WINDOWS = 256  # charlm.ts VAL_WINDOWS

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--text", default="/work/shared/data/tinyshakespeare.txt")
p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
p.add_argument("--hidden", type=int, default=128)
p.add_argument("--layers", type=int, default=1)
p.add_argument("--embedding", type=int, default=64)
p.add_argument("--seq-len", type=int, default=64)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--steps", type=int, default=500)
p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--clip", type=float, default=5.0)
p.add_argument("--val-fraction", type=float, default=0.1)
p.add_argument("--eval-interval", type=int, default=50)
p.add_argument("--seed", type=int, default=1)
args = p.parse_args()

# Before `import torch`: OpenBLAS sizes its thread pool once, at load (see
# bench/peers/pytorch_charlm.py); two pools on a shared 2-core machine oversubscribe it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(1)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def validation_starts(n_val, seq_len, max_windows):
    """CharCorpus.validationStarts: consecutive windows, or max_windows spread evenly."""
    count = (n_val - 1) // seq_len
    n = min(count, max_windows)
    return [(i * count // n) * seq_len for i in range(n)]


class CharLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, args.embedding)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[args.cell]
        self.rnn = rnn(args.embedding, args.hidden, args.layers, batch_first=True)
        self.fc = nn.Linear(args.hidden, vocab)

    def forward(self, x):
        y, _ = self.rnn(self.emb(x))  # zero initial state
        return self.fc(y)


def main():
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    vocab = sorted(set(text))  # code-point order, as CharCorpus sorts
    index = {c: i for i, c in enumerate(vocab)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = len(data) - int(len(data) * args.val_fraction)  # floor, as in CharCorpus
    train, val = data[:cut], data[cut:]
    T, B, V = args.seq_len, args.batch, len(vocab)

    torch.manual_seed(args.seed)
    model = CharLM(V)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    ce = nn.CrossEntropyLoss()  # mean over all positions
    gen = torch.Generator().manual_seed(args.seed)
    offsets = torch.arange(T + 1)

    starts = torch.tensor(validation_starts(len(val), T, VAL_WINDOWS))
    val_windows = val[starts[:, None] + offsets]
    val_x, val_y = val_windows[:, :-1], val_windows[:, 1:]

    def validate():
        model.eval()
        with torch.no_grad():
            loss = ce(model(val_x).reshape(-1, V), val_y.reshape(-1)).item()
        model.train()
        return loss

    history = {"train": [], "val": []}
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        # randint's high is exclusive: offsets 0 .. len(train) - T - 1, as randomWindows.
        s = torch.randint(0, len(train) - T, (B,), generator=gen)
        w = train[s[:, None] + offsets]
        loss = ce(model(w[:, :-1]).reshape(-1, V), w[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        if args.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        history["train"].append(loss.item())
        if step % args.eval_interval == 0 or step == args.steps:
            history["val"].append([step, validate()])
            recent = history["train"][-args.eval_interval:]  # as rnnkit's progress line
            log(f"step {step}/{args.steps}  loss {sum(recent) / len(recent):.4f}  "
                f"val {history['val'][-1][1]:.4f}")
    history["seconds"] = time.perf_counter() - t0
    print(json.dumps(history))


if __name__ == "__main__":
    main()
