"""Benchmark worker: PyTorch + transformers, the way the official embedder runs Qwen3-VL-Embedding.

usage: python torch_worker.py --model DIR --dtype f32|bf16 [--device cpu|cuda] [--threads N]

Speaks the same JSON lines as worker.rs: prints {"ready": ..., "load_s": ...} after loading,
then answers {"case", "items": [{"text", "image"}]} with {"seconds", "first", "rss_peak_gib"}.
Timed: image decode + qwen_vl_utils resize (the official path), the processor, one padded
forward pass of the whole request, last-token pooling and L2 normalisation.
"""
import io
import json
import os
import resource
import sys
import time
import unicodedata

import torch

DEFAULT_INSTRUCTION = "Represent the user's input."
MIN_PIXELS, MAX_PIXELS = 4 * 32 * 32, 1800 * 32 * 32


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def prompt(text, n_images, instruction=None):
    """The embedding prompt (spec section 3)."""
    instr = (instruction or DEFAULT_INSTRUCTION).strip()
    if not unicodedata.category(instr[-1]).startswith("P"):
        instr += "."
    user = "<|vision_start|><|image_pad|><|vision_end|>" * n_images + (text or "")
    return (f"<|im_start|>system\n{instr}<|im_end|>\n<|im_start|>user\n{user or 'NULL'}<|im_end|>\n"
            "<|im_start|>assistant\n")


def rss_peak_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main():
    model_dir = arg("--model", None)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[arg("--dtype", "f32")]
    device = arg("--device", "cpu")
    torch.set_num_threads(int(arg("--threads", str(os.cpu_count()))))

    from PIL import Image
    from qwen_vl_utils import fetch_image
    from transformers import AutoTokenizer, Qwen3VLForConditionalGeneration, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    start = time.time()
    model = Qwen3VLForConditionalGeneration.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
    base = model.model.to(device).eval()
    if device == "cuda":
        torch.cuda.synchronize()
    load_s = time.time() - start
    pp = dict(patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "right"
    proc = Qwen3VLProcessor(image_processor=Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, **pp),
                            tokenizer=tok, video_processor=Qwen3VLVideoProcessor(**pp))
    print(json.dumps({"ready": True, "device": device, "load_s": load_s, "rss_peak_gib": rss_peak_gib()}), flush=True)

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        raw = [open(it["image"], "rb").read() if it.get("image") else None for it in req["items"]]
        start = time.time()
        images = [fetch_image({"image": Image.open(io.BytesIO(b)), "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS},
                              image_patch_size=16) for b in raw if b is not None]
        prompts = [prompt(it.get("text"), int(b is not None)) for it, b in zip(req["items"], raw)]
        enc = proc(text=prompts, images=images or None, do_resize=False, padding=True, return_tensors="pt")
        kw = {k: v.to(device) for k, v in enc.items()}
        if "pixel_values" in kw:
            kw["pixel_values"] = kw["pixel_values"].to(dtype)
        with torch.inference_mode():
            hs = base(**kw, use_cache=False).last_hidden_state
            am = kw["attention_mask"]
            last = am.shape[1] - am.flip(dims=[1]).argmax(dim=1) - 1
            emb = torch.nn.functional.normalize(hs[torch.arange(hs.shape[0]), last].float(), dim=-1).cpu()
        seconds = time.time() - start
        print(json.dumps({"case": req.get("case"), "seconds": seconds, "first": emb[0].tolist(),
                          "tokens": int(am.sum(dim=1).max()), "rss_peak_gib": rss_peak_gib()}), flush=True)


if __name__ == "__main__":
    main()
