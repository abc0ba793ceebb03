#!/usr/bin/python3
"""Exports the bench's generation model to ONNX for the onnxruntime peer (onnxruntime.ts).

  /usr/bin/python3 bench/peers/onnx_charlm_export.py --vocab 65 --out /tmp/charlm.onnx

Embedding(V,64) -> LSTM(64,256,2) -> Linear(256,V), random init (seed 0), as
pytorch_charlm.py's generation model, through torch.onnx.export at opset 14 for one
character per call: inputs x [1,1] int64, h and c [2,1,256]; outputs logits [1,1,V], h, c.
Prints one JSON line on stdout (the file and torch's version).
"""

import argparse
import json

import torch
from torch import nn

EMBED, HIDDEN, LAYERS = 64, 256, 2


class CharLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, LAYERS, batch_first=True)
        self.head = nn.Linear(HIDDEN, vocab)

    def forward(self, x, h, c):
        y, (h, c) = self.rnn(self.embed(x), (h, c))
        return self.head(y), h, c


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.manual_seed(0)
    model = CharLM(a.vocab).eval()
    x = torch.zeros(1, 1, dtype=torch.long)
    h = torch.zeros(LAYERS, 1, HIDDEN)
    with torch.no_grad():
        torch.onnx.export(model, (x, h, h.clone()), a.out, opset_version=14,
                          input_names=["x", "h", "c"], output_names=["logits", "h_out", "c_out"])
    print(json.dumps({"onnx": a.out, "torch": torch.__version__, "opset": 14}))


if __name__ == "__main__":
    main()
