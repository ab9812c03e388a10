"""How much cosine each rounding rule costs the 2B, measured in transformers, not in our code.

usage: python fake_quant.py CHECKPOINT_DIR WEIGHTS/ACTIVATIONS ...
  e.g. python fake_quant.py target/bench-model/qwen3-vl-embedding-2b-random q8/q8 q8/f32 f32/q8 q4_0/q8

Runs one text query (the one of `measure_text_query` in crates/qwen3-vl-embedder/tests/converted.rs)
through Qwen3VLModel in float32, once as it is (the reference) and once per WEIGHTS/ACTIVATIONS pair
with every decoder Linear's weight and/or input rounded the given way, and prints the cosine of each
pooled embedding (last token, as torch_worker.py pools it) to the reference. A text query touches only
the decoder, so only its linear layers are rounded.

Rules (blocks run along the input dimension, one scale per block per output or per activation row,
as in crates/linear-kernels):
  f32    unchanged
  bf16   rounded to bfloat16
  q8     int8, symmetric, scale max|v| / 127 per block of 32 (our int8)
  q8b16  the same per block of 16
  q8mse  weights: q8 with the scale (0.80..1.00 x max|v| / 127) that minimises each block's squared error
  q4_0   weights: llama.cpp's Q4_0 per block of 32 (scale = the largest-magnitude value / -8, values
         -8..=7, scale rounded to f16): our q4
The gap between `ours` and these numbers is our kernels' own error; the rest is the format's.
"""
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_worker import prompt  # noqa: E402

QUERY = "Turn off Night Shift and set the display brightness to fifty percent"


def blocks(v, block):
    """v [..., K] as [..., ceil(K / block), block], zero-padded."""
    pad = (-v.shape[-1]) % block
    return nn.functional.pad(v, (0, pad)).reshape(*v.shape[:-1], -1, block)


def unblock(x, like):
    return x.reshape(*like.shape[:-1], -1)[..., : like.shape[-1]]


def q8(v, block=32):
    x = blocks(v, block)
    s = x.abs().amax(-1, keepdim=True) / 127
    s = torch.where(s > 0, s, torch.ones_like(s))
    return unblock((x / s).round().clamp(-127, 127) * s, v)


def q8_mse(v, block=32):
    x = blocks(v, block)
    amax = x.abs().amax(-1, keepdim=True).clamp_min(1e-30)
    best, out = None, None
    for f in torch.linspace(0.80, 1.0, 21):
        s = amax * f / 127
        y = (x / s).round().clamp(-127, 127) * s
        err = ((y - x) ** 2).sum(-1, keepdim=True)
        if best is None:
            best, out = err, y
        else:
            better = err < best
            best, out = torch.where(better, err, best), torch.where(better, y, out)
    return unblock(out, v)


def q4_0(v, block=32):
    x = blocks(v, block)
    idx = x.abs().argmax(-1, keepdim=True)
    d = (x.gather(-1, idx) / -8).half().float()
    d = torch.where(d != 0, d, torch.ones_like(d))
    return unblock((x / d).round().clamp(-8, 7) * d, v)


WEIGHTS = {"f32": lambda w: w, "bf16": lambda w: w.bfloat16().float(), "q8": q8,
           "q8b16": lambda w: q8(w, 16), "q8mse": q8_mse, "q4_0": q4_0}
ACTIVATIONS = {"f32": lambda x: x, "bf16": lambda x: x.bfloat16().float(), "q8": q8, "q8b16": lambda x: q8(x, 16)}


def embed(model, enc, weights, activations):
    linears = [m for m in model.language_model.modules() if isinstance(m, nn.Linear)]
    saved = [m.weight.data for m in linears]
    forward = nn.Linear.forward
    try:
        for m in linears:
            m.weight.data = WEIGHTS[weights](m.weight.data)
        nn.Linear.forward = lambda self, x: forward(self, ACTIVATIONS[activations](x))
        with torch.inference_mode():
            hs = model(**enc, use_cache=False).last_hidden_state[0, -1]
    finally:
        nn.Linear.forward = forward
        for m, w in zip(linears, saved):
            m.weight.data = w
    return nn.functional.normalize(hs.double(), dim=0)


def main():
    from transformers import AutoTokenizer, Qwen3VLForConditionalGeneration

    torch.set_num_threads(2)
    model_dir, pairs = sys.argv[1], sys.argv[2:]
    for pair in pairs:
        w, a = pair.split("/")
        if w not in WEIGHTS or a not in ACTIVATIONS:
            sys.exit(f"unknown rule pair {pair!r}: weights {sorted(WEIGHTS)}, activations {sorted(ACTIVATIONS)}")
    model = Qwen3VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).model.eval()
    enc = AutoTokenizer.from_pretrained(model_dir)([prompt(QUERY, 0)], return_tensors="pt")
    reference = embed(model, enc, "f32", "f32")
    for pair in pairs:
        start = time.time()
        w, a = pair.split("/")
        cosine = float(reference @ embed(model, enc, w, a))
        print(f"weights {w:6} activations {a:5}: cosine to f32 {cosine:.6f} ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
