"""Writes a random-weight checkpoint of the real Qwen3-VL-Embedding-2B architecture.

usage: python make_checkpoint.py OUT_DIR [--seed 0]

The layout is the released one: `config.json` in the transformers 4.57 form (rope_theta and
rope_scaling inside text_config), one bf16 `model.safetensors` (~4.3 GB) with the
`Qwen3VLForConditionalGeneration` tensor names (no lm_head: it is tied), the Qwen3 tokenizer
with the embedding checkpoint's EOS-appending post-processor, and the preprocessor config.
Names and shapes come from transformers itself (a model built on the meta device), so they are
the ones a real checkpoint has. Values follow transformers' own initialisation (matrices and
embeddings N(0, 0.02), norm weights 1, biases 0), seeded, so speed is that of real weights.

The file is streamed tensor by tensor: memory stays near the largest tensor (the 0.6 GB
embedding table). An existing complete checkpoint with the same seed is reused.
"""
import json
import os
import shutil
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TOKENIZER_DIR = os.path.join(ROOT, "tests", "fixtures", "models", "tiny-embedding")

# Qwen3-VL-Embedding-2B config.json (spec section 2), released layout.
TEXT = dict(vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
            num_attention_heads=16, num_key_value_heads=8, head_dim=128, hidden_act="silu",
            max_position_embeddings=262144, rms_norm_eps=1e-6, attention_bias=False,
            attention_dropout=0.0, initializer_range=0.02, use_cache=True, bos_token_id=151643,
            eos_token_id=151645, tie_word_embeddings=True, model_type="qwen3_vl_text", dtype="bfloat16",
            rope_theta=5000000,
            rope_scaling={"mrope_interleaved": True, "mrope_section": [24, 20, 20], "rope_type": "default"})
VISION = dict(depth=24, hidden_size=1024, intermediate_size=4096, num_heads=16, in_channels=3,
              hidden_act="gelu_pytorch_tanh", patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
              out_hidden_size=2048, num_position_embeddings=2304, deepstack_visual_indexes=[5, 11, 17],
              initializer_range=0.02, model_type="qwen3_vl")
CONFIG = {"architectures": ["Qwen3VLForConditionalGeneration"], "model_type": "qwen3_vl",
          "image_token_id": 151655, "video_token_id": 151656, "vision_start_token_id": 151652,
          "vision_end_token_id": 151653, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
          "transformers_version": "4.57.0", "text_config": TEXT, "vision_config": VISION}


def tensor_specs():
    """(name, shape) of every stored tensor, from transformers' model built without memory."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
    cfg = Qwen3VLConfig.from_dict(json.loads(json.dumps(CONFIG)))
    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(cfg)
    specs = [(n, tuple(t.shape)) for n, t in model.state_dict().items() if n != "lm_head.weight"]
    return sorted(specs)


def draw(name, shape, gen):
    """transformers' init: norms 1, biases 0, everything else N(0, initializer_range)."""
    leaf = name.rsplit(".", 2)
    if name.endswith(".bias"):
        return torch.zeros(shape)
    if "norm" in leaf[-2] and name.endswith(".weight"):
        return torch.ones(shape)
    return torch.randn(shape, generator=gen) * 0.02


def write_safetensors(path, specs, seed):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in specs:
        size = 2 * int(torch.Size(shape).numel())
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    gen = torch.Generator().manual_seed(seed)
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        for i, (name, shape) in enumerate(specs):
            t = draw(name, shape, gen).to(torch.bfloat16).contiguous()
            f.write(t.view(torch.int16).numpy().tobytes())
            if i % 50 == 0:
                print(f"  {i + 1}/{len(specs)} tensors, {f.tell() / 2**30:.2f} GiB", file=sys.stderr, flush=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return offset


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out = os.path.abspath(args[0])
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
    marker = os.path.join(out, ".complete")
    stamp = json.dumps({"seed": seed, "config": CONFIG}, sort_keys=True)
    if os.path.exists(marker) and open(marker).read() == stamp:
        print(f"reusing {out}", file=sys.stderr)
        return
    os.makedirs(out, exist_ok=True)
    if os.path.exists(marker):
        os.remove(marker)
    torch.set_num_threads(os.cpu_count() or 1)
    start = time.time()
    specs = tensor_specs()
    n = sum(int(torch.Size(s).numel()) for _, s in specs)
    print(f"writing {len(specs)} tensors, {n / 1e9:.3f} B parameters (bf16) to {out}", file=sys.stderr)
    size = write_safetensors(os.path.join(out, "model.safetensors"), specs, seed)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2, sort_keys=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        shutil.copy(os.path.join(TOKENIZER_DIR, name), os.path.join(out, name))
    with open(marker, "w") as f:
        f.write(stamp)
    print(f"wrote {size / 2**30:.2f} GiB of weights in {time.time() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
