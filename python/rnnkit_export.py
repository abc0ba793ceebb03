"""Read and write rnnkit CharLM checkpoints from PyTorch, with the standard library only.

The file is standard safetensors (readable by Hugging Face's `safetensors` too; read and
written with rnnkit_torch.py, beside this file): an 8-byte little-endian header length, a
JSON header padded with spaces to a multiple of 8 bytes, then the float32 tensors.  Tensor
names are the state_dict keys of the three modules under the prefixes emb., rnn. and fc.;
__metadata__ says what the shapes cannot (see packages/core/src/io/charlm_checkpoint.ts).
"""

import json

import torch
import torch.nn as nn

from rnnkit_torch import read_safetensors, write_safetensors

FORMAT = "rnnkit.charlm.v1"


def save_rnnkit_checkpoint(path, emb, rnn, fc, vocab):
    """Save emb=nn.Embedding(V, E), rnn=nn.RNN|LSTM|GRU(E, H, batch_first=True) and
    fc=nn.Linear(H, V) with vocab (V characters, in index order) for rnnkit."""
    if isinstance(rnn, nn.LSTM):
        cell = "lstm"
    elif isinstance(rnn, nn.GRU):
        cell = "gru"
    elif isinstance(rnn, nn.RNN):
        cell = "rnn"
    else:
        raise TypeError(f"rnn must be nn.RNN, nn.LSTM or nn.GRU, got {type(rnn).__name__}")
    if rnn.bidirectional or not rnn.bias or getattr(rnn, "proj_size", 0):
        raise ValueError("rnnkit's CharLM needs a unidirectional rnn with biases, no proj_size")
    vocab = list(vocab)
    if len(vocab) != emb.num_embeddings or len(set(vocab)) != len(vocab):
        raise ValueError(f"vocab must be {emb.num_embeddings} distinct characters")

    metadata = {"format": FORMAT, "cell": cell, "num_layers": str(rnn.num_layers)}
    if cell == "rnn":
        metadata["nonlinearity"] = rnn.nonlinearity
    metadata["vocab"] = json.dumps(vocab, ensure_ascii=False)

    tensors = {prefix + key: t.detach().float()
               for prefix, module in (("emb.", emb), ("rnn.", rnn), ("fc.", fc))
               for key, t in module.state_dict().items()}
    # Written beside the target and renamed over it: a crash never leaves half a file.
    write_safetensors(path, tensors, metadata)


def load_rnnkit_checkpoint(path):
    """Return (state_dict, metadata) of an rnnkit CharLM checkpoint; state_dict keys carry the
    emb., rnn. and fc. prefixes, in file order."""
    state, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: not an rnnkit CharLM checkpoint ({metadata.get('format')!r})")
    for key, t in state.items():
        if t.dtype != torch.float32:
            raise ValueError(f"{path}: tensor {key} is I32, expected F32")
    return state, metadata
