"""Generate every committed reference fixture under tests/fixtures/ (CPU, deterministic).

    bash tools/reference/setup.sh && ref-work/venv/bin/python tools/reference/make_fixtures.py

What it writes (see tools/reference/README.md):
  tests/fixtures/images/                      synthetic test images (+ 2 broken files for error tests)
  tests/fixtures/models/tiny-embedding/       bf16 tiny Qwen3-VL checkpoint, released config layout,
                                              EOS-appending tokenizer
  tests/fixtures/models/tiny-embedding-sharded/  same values in f32, 2 shards + index, transformers-5
                                              config layout, extra unused lm_head, plain tokenizer
  tests/fixtures/reference/                   cases.json, <case>.safetensors, tokenizer_cases.json,
                                              resize_cases.json/.safetensors

The reference follows Qwen3VLEmbedder.process (spec sections 2-4): instruction normalisation, chat
prompt, qwen_vl_utils.fetch_image (smart_resize factor 32, 4096..1843200 px, PIL bicubic), the
Qwen3VLProcessor with do_resize=False (PIL image processor), tokenizer that appends <|endoftext|>,
Qwen3VLModel in float32 (eager attention) from the bf16-rounded checkpoint, last-token pooling
(last attention_mask==1 position) and L2 normalisation (eps 1e-12).
"""
import copy
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import unicodedata
import zlib

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
IMG_DIR = os.path.join(FIX, "images")
REF_DIR = os.path.join(FIX, "reference")
MODEL_DIR = os.path.join(FIX, "models", "tiny-embedding")
SHARD_DIR = os.path.join(FIX, "models", "tiny-embedding-sharded")
WORK = os.path.join(ROOT, "ref-work")
NPM_TOKENIZER = os.path.join(WORK, "tokenizer", "tokenizer.json")
NPM_TOKENIZER_SHA256 = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"

ATTN = "eager"
THREADS = 2
MIN_PIXELS = 4 * 32 * 32          # 4096
MAX_PIXELS = 1800 * 32 * 32       # 1843200
IMAGE_PATCH_SIZE = 16
DEFAULT_INSTRUCTION = "Represent the user's input."
EOS_ID = 151643
IMAGE_PAD_ID = 151655
VISION_START, IMAGE_PAD, VISION_END = "<|vision_start|>", "<|image_pad|>", "<|vision_end|>"

torch.set_num_threads(THREADS)
torch.use_deterministic_algorithms(True)

import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save as _st_save  # noqa: E402

VERSIONS = {
    "transformers": transformers.__version__,
    "torch": torch.__version__,
    "pillow": Image.__version__,
    "numpy": np.__version__,
}


def save_file(tensors, path, metadata=None):
    """safetensors.torch.save_file with a byte-stable header: the Rust serializer keeps
    __metadata__ in a HashMap (random order per process), so re-emit the header JSON with
    sorted keys. Data bytes and offsets are untouched; the header stays 8-byte padded."""
    raw = _st_save(tensors, metadata=metadata)
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    hb = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + raw[8 + n:])
    with safe_open(path, "pt") as f:   # round-trip check
        assert sorted(f.keys()) == sorted(tensors) and (f.metadata() or {}) == (metadata or {})
        for k in tensors:
            assert torch.equal(f.get_tensor(k), tensors[k].cpu()), k


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------------
# Tiny config
# ----------------------------------------------------------------------------------------------
TEXT = dict(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, head_dim=32, hidden_act="silu",
            max_position_embeddings=262144, rms_norm_eps=1e-6, attention_bias=False,
            attention_dropout=0.0, initializer_range=0.02, use_cache=True,
            bos_token_id=151643, eos_token_id=151645, tie_word_embeddings=True)
ROPE = dict(rope_type="default", mrope_section=[6, 5, 5], mrope_interleaved=True)
ROPE_THETA = 5000000
VISION = dict(depth=3, hidden_size=32, intermediate_size=64, num_heads=2, in_channels=3,
              hidden_act="gelu_pytorch_tanh", patch_size=16, spatial_merge_size=2,
              temporal_patch_size=2, out_hidden_size=64, num_position_embeddings=64,
              deepstack_visual_indexes=[0, 2], initializer_range=0.02)
TOP = dict(image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
           vision_end_token_id=151653, tie_word_embeddings=True)


def released_config():
    """config.json in the layout the released Qwen3-VL(-Embedding) checkpoints use
    (transformers 4.57 era: text_config.rope_theta + text_config.rope_scaling)."""
    tc = dict(TEXT)
    tc.update(model_type="qwen3_vl_text", dtype="bfloat16", rope_theta=ROPE_THETA,
              rope_scaling={"mrope_interleaved": True, "mrope_section": list(ROPE["mrope_section"]),
                            "rope_type": "default"})
    vc = dict(VISION)
    vc["model_type"] = "qwen3_vl"   # what released checkpoints carry (transformers 5 maps it)
    cfg = {"architectures": ["Qwen3VLForConditionalGeneration"], "model_type": "qwen3_vl",
           "text_config": dict(sorted(tc.items())), "vision_config": dict(sorted(vc.items())),
           "torch_dtype": "bfloat16", "transformers_version": "4.57.0"}
    cfg.update(TOP)
    return dict(sorted(cfg.items()))


# ----------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------
def pattern(w, h, seed, checker=8, strokes=True):
    """Deterministic RGB uint8 array [h, w, 3]: gradients + checker + dark text-like strokes."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1)).astype(np.int32)
    g = (y * 255 // max(h - 1, 1)).astype(np.int32)
    b = ((((x // checker) + (y // checker)) % 2) * 170 + 40 + (seed * 37) % 40).astype(np.int32)
    img = np.stack([r, g, b], axis=-1)
    if strokes:
        rng = np.random.default_rng(1000 + seed)
        line_h = max(6, h // 8)
        for top in range(2, h - 3, line_h):
            xx = 2 + int(rng.integers(0, 4))
            while xx < w - 4:
                wl = int(rng.integers(3, 14))         # "word" length in px
                x1 = min(w - 2, xx + wl)
                col = rng.integers(0, 90, size=3)
                img[top:top + 2, xx:x1] = col          # horizontal bar (2 px)
                for t in range(xx, x1, 3):             # vertical ticks of varying height
                    th = int(rng.integers(1, max(2, line_h - 2)))
                    img[top:min(h, top + th), t] = col
                xx = x1 + int(rng.integers(2, 6))
    return np.clip(img, 0, 255).astype(np.uint8)


def big_pattern(w, h):
    """Large image that PNG-compresses well: smooth gradients, 125-px blocks, a few long strokes."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // (w - 1))
    g = (y * 255 // (h - 1))
    b = (((x // 125) + (y // 125)) % 2) * 160 + 48
    img = np.stack([r, g, b], axis=-1).astype(np.int32)
    for i, top in enumerate(range(40, h - 40, 90)):      # text-like horizontal strokes
        img[top:top + 6, 60 + 17 * i: w - 60 - 23 * i] = (20, 20, 20)
    for left in range(100, w - 100, 230):                 # vertical strokes
        img[60:h - 60, left:left + 4] = (240, 240, 240)
    return img.astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_images():
    os.makedirs(IMG_DIR, exist_ok=True)
    P = lambda n: os.path.join(IMG_DIR, n)  # noqa: E731
    Image.fromarray(pattern(64, 48, 1), "RGB").save(P("rgb_64x48.png"), optimize=False, compress_level=9)
    Image.fromarray(pattern(77, 131, 2), "RGB").save(P("rgb_odd_77x131.png"), compress_level=9)
    Image.fromarray(pattern(80, 112, 3), "RGB").save(P("rgb_halfeven_80x112.png"), compress_level=9)
    Image.fromarray(pattern(16, 16, 4, checker=4), "RGB").save(P("tiny_16x16.png"), compress_level=9)
    Image.fromarray(pattern(176, 96, 5), "RGB").save(P("wide_176x96.png"), compress_level=9)
    Image.fromarray(big_pattern(2000, 1500), "RGB").save(P("large_2000x1500.png"), compress_level=9)
    # RGBA with real partial alpha: diagonal ramp, a transparent hole, an opaque band
    rgb = pattern(90, 70, 6)
    y, x = np.mgrid[0:70, 0:90]
    a = ((x + y) * 255 // (89 + 69)).astype(np.int32)
    a[20:35, 30:50] = 0
    a[50:60, :] = 255
    Image.fromarray(np.dstack([rgb, a.astype(np.uint8)]), "RGBA").save(P("rgba_90x70.png"), compress_level=9)
    # greyscale (mode L)
    Image.fromarray(pattern(100, 80, 7)[..., :3].mean(-1).astype(np.uint8), "L").save(P("grey_100x80.png"), compress_level=9)
    # palette (mode P, 16 colours, no transparency)
    y, x = np.mgrid[0:72, 0:72]
    idx = ((x // 9) + 2 * (y // 12)) % 16
    idx[30:33, 5:67] = 15
    pim = Image.fromarray(idx.astype(np.uint8), "P")
    pal = []
    for i in range(16):
        pal += [(i * 53) % 256, (i * 97 + 30) % 256, (255 - i * 16) % 256]
    pim.putpalette(pal)
    pim.save(P("palette_72x72.png"), compress_level=9)
    # baseline JPEG (4:2:0, quality 85)
    Image.fromarray(pattern(120, 90, 8), "RGB").save(P("photo_120x90.jpg"), quality=85, optimize=False, progressive=False)
    # lossless WebP
    Image.fromarray(pattern(80, 64, 9), "RGB").save(P("lossless_80x64.webp"), lossless=True, quality=100, method=6)
    # animated GIF, 2 frames with one shared palette; the first frame is the one used
    y, x = np.mgrid[0:64, 0:64]
    f0 = (((x // 8) + (y // 8)) % 2) * 1 + (x // 16) * 2 + (y // 32) * 8
    f0[20:22, 4:60] = 15
    f1 = 15 - f0
    frames = []
    for f in (f0, f1):
        im = Image.fromarray(f.astype(np.uint8), "P")
        im.putpalette(pal)
        frames.append(im)
    frames[0].save(P("anim_64x64.gif"), save_all=True, append_images=frames[1:], duration=[100, 100], loop=0,
                   optimize=False, disposal=1)
    # corrupt: a valid PNG cut in half
    buf = io.BytesIO()
    Image.fromarray(pattern(64, 48, 10), "RGB").save(buf, format="PNG", compress_level=9)
    data = buf.getvalue()
    open(P("corrupt_truncated.png"), "wb").write(data[: len(data) // 2])
    # decompression bomb: header claims 60000x60000 RGB; IDAT holds a (sync-flushed, unfinished)
    # zlib stream of 8 all-zero rows, so the file is tiny and ends with a valid IEND.
    W = H = 60000
    ihdr = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)
    co = zlib.compressobj(9)
    idat = co.compress(b"\x00" * ((3 * W + 1) * 8)) + co.flush(zlib.Z_SYNC_FLUSH)
    png = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    open(P("bomb_60000x60000.png"), "wb").write(png)
    # sanity: the broken files really are broken for Pillow
    try:
        Image.open(P("corrupt_truncated.png")).load()
        raise SystemExit("corrupt_truncated.png decoded?!")
    except (OSError, SyntaxError):
        pass
    try:
        Image.open(P("bomb_60000x60000.png"))
        raise SystemExit("bomb did not trip Pillow's DecompressionBombError")
    except Image.DecompressionBombError:
        pass


# ----------------------------------------------------------------------------------------------
# Prompt construction (spec section 3)
# ----------------------------------------------------------------------------------------------
def normalise_instruction(instr):
    if not instr:               # None or "" -> default, verbatim
        return DEFAULT_INSTRUCTION
    instr = instr.strip()
    if instr and not unicodedata.category(instr[-1]).startswith("P"):
        instr = instr + "."
    return instr


def render_prompt(inp):
    user = "".join(VISION_START + IMAGE_PAD + VISION_END for _ in inp["images"])
    if inp["text"]:
        user += inp["text"]
    if not user:
        user = "NULL"
    return (f"<|im_start|>system\n{normalise_instruction(inp['instruction'])}<|im_end|>\n"
            f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")


def I(text=None, images=(), instruction=None):  # noqa: E743
    return {"text": text, "images": [f"images/{n}" for n in images], "instruction": instruction}


NIGHT = "Turn off Night Shift"
SETTINGS = "Retrieve the settings action that matches the user's request"
CASES = [
    ("text", [I(NIGHT, instruction=SETTINGS)], "spec example A: instruction gets a trailing '.'"),
    ("text_default_instruction", [I(NIGHT)], "spec example B: default instruction"),
    ("null_input", [I(None, instruction="")], "no text, no image, empty instruction -> 'NULL' user turn, default instruction"),
    ("instruction_symbol_end", [I("What does this cost?", instruction="  Find the price in $ ")],
     "instruction stripped; last char '$' (Sc) is not punctuation -> '.' appended"),
    ("image", [I(None, ["rgb_64x48.png"])], "image only, 64x48 -> 64x64 (48/32=1.5 -> 2), grid 1x4x4, 4 image tokens"),
    ("text_image", [I("A picture of gradients and strokes.", ["rgb_64x48.png"], "Represent the picture and caption for retrieval")],
     "image + text in one input"),
    ("odd_size", [I(None, ["rgb_odd_77x131.png"])], "odd 77x131 (WxH) -> 64x128"),
    ("half_even", [I(None, ["rgb_halfeven_80x112.png"])],
     "80x112 (WxH): 80/32=2.5 -> 2 (64) and 112/32=3.5 -> 4 (128): Python round-half-even on both axes"),
    ("tiny_image", [I(None, ["tiny_16x16.png"])], "16x16 upscaled to 64x64 (min_pixels branch)"),
    ("wide_image", [I("Describe this wide picture.", ["wide_176x96.png"])],
     "176x96 -> 192x96 (176/32=5.5 rounds to even 6); grid 6x12 exceeds the 8x8 pos-embed table"),
    ("large_image", [I(None, ["large_2000x1500.png"])],
     "2000x1500 > max_pixels -> 1536x1152 (WxH), grid 72x96, 1728 tokens; pixel_values stored sampled"),
    ("rgba", [I(None, ["rgba_90x70.png"])], "RGBA with partial alpha, composited on white -> 96x64"),
    ("grey", [I(None, ["grey_100x80.png"])], "mode L -> convert('RGB'); 100x80 -> 96x64 (80/32=2.5 -> 2)"),
    ("palette", [I(None, ["palette_72x72.png"])], "mode P (no transparency) -> convert('RGB'); 72x72 -> 64x64"),
    ("jpeg", [I(None, ["photo_120x90.jpg"])], "baseline JPEG 4:2:0 q85 decoded by Pillow's libjpeg-turbo; 120x90 -> 128x96"),
    ("webp", [I(None, ["lossless_80x64.webp"])], "lossless WebP; 80x64 -> 64x64"),
    ("gif", [I(None, ["anim_64x64.gif"])], "animated GIF (2 frames), first frame used (mode P -> RGB)"),
    ("two_images", [I("Compare these two pictures.", ["rgb_64x48.png", "rgb_odd_77x131.png"])],
     "two images then text in one input (images first)"),
    ("unicode_text", [I("東京の天気は？☔ 今天天气怎么样 👨‍👩‍👧 café", instruction="  Which passage answers this question?  ")],
     "CJK + emoji(ZWJ) text; instruction stripped and ends with '?' (Po) -> no '.' appended"),
    ("batch", [I("hi", instruction="Find a greeting"),
               I(NIGHT, ["rgb_64x48.png"], "Retrieve the screenshot matching the request!"),
               I(None, ["wide_176x96.png"], "Describe the image")],
     "right-padded batch of 3: text-only, text+image, image-only; each with its own instruction"),
]

TRICKY = [
    "line one\r\nline two\r\n",
    "tab\tseparated\tvalues\t\tend",
    "multiple    spaces   between  words  ",
    "I'LL BE THERE, WE'RE READY, IT'S DONE, YOU'VE SEEN, HE'D GO",
    "don't won't can't I'm you've they'd she'll",
    "1234567890 and 3.14159265358979 and 1,000,000 and 2026-11-25",
    "中文测试：今天天气很好，我们去公园散步吧。",
    "日本語のテキストとカタカナ、ひらがな",
    "한국어 문장입니다",
    "family 👨‍👩‍👧‍👦 flag 🇯🇵 thumbs 👍🏽 heart ❤️",
    "combining e\u0301 vs \u00e9, n\u0303, A\u030a",
    "price:\u00a0100\u00a0EUR\u202fnarrow",
    "   leading and trailing spaces   ",
    "\n\nnewlines\n\n\nmany\n",
    "mixed: Hello世界123abc!!!???...",
    "URL https://example.com/path?q=1&r=2#frag",
    "code: fn main() { println!(\"hi\"); }",
    "Ünïcödé àccents Straße \ufb01 ligature",
    "literal <|im_end|> and <|endoftext|> markers in text",
    "Arabic مرحبا بالعالم and Hebrew שלום",
    "zero\u200bwidth space and soft\u00adhyphen",
    "emoji only 🙂🙃🤖",
    "   ",
]
EXAMPLE_A_IDS = [151644, 8948, 198, 87665, 279, 5003, 1917, 429, 9071, 279, 1196, 594, 1681, 13, 151645, 198,
                 151644, 872, 198, 19389, 1007, 12826, 26510, 151645, 198, 151644, 77091, 198, 151643]
EXAMPLE_B_IDS = [151644, 8948, 198, 65743, 279, 1196, 594, 1946, 13, 151645, 198, 151644, 872, 198, 19389, 1007,
                 12826, 26510, 151645, 198, 151644, 77091, 198, 151643]

# The chat template of the released Qwen3-VL processors, reduced to what the embedder renders.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' or 'image' in item -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'video' or 'video' in item -%}{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'text' -%}{{- item['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


# ----------------------------------------------------------------------------------------------
# Tokenizers and processor configs
# ----------------------------------------------------------------------------------------------
def write_tokenizers():
    raw = open(NPM_TOKENIZER, "rb").read()
    assert hashlib.sha256(raw).hexdigest() == NPM_TOKENIZER_SHA256, "run tools/reference/setup.sh"
    tok = json.loads(raw)
    assert json.dumps(tok, indent=2, ensure_ascii=False).encode() == raw  # same formatting on re-dump
    tok["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}],
        "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [EOS_ID], "tokens": ["<|endoftext|>"]}},
    }
    for d in (MODEL_DIR, SHARD_DIR):
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(MODEL_DIR, "tokenizer.json"), "wb") as f:
        f.write(json.dumps(tok, indent=2, ensure_ascii=False).encode())
    with open(os.path.join(SHARD_DIR, "tokenizer.json"), "wb") as f:
        f.write(raw)
    tc = json.load(open(os.path.join(os.path.dirname(NPM_TOKENIZER), "tokenizer_config.json")))
    tc["chat_template"] = CHAT_TEMPLATE
    tc["padding_side"] = "right"
    tc["model_max_length"] = 262144
    tc["pad_token"] = "<|endoftext|>"
    tc["eos_token"] = "<|im_end|>"
    tc["tokenizer_class"] = "Qwen2Tokenizer"
    for d in (MODEL_DIR, SHARD_DIR):
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(tc, f, indent=2, ensure_ascii=False, sort_keys=True)
            f.write("\n")
    pp = {"image_processor_type": "Qwen2VLImageProcessorFast", "processor_class": "Qwen3VLProcessor",
          "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2,
          "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
          "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
          "do_convert_rgb": True, "resample": 3,
          "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS,
          "size": {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}}
    for d in (MODEL_DIR, SHARD_DIR):
        with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
            json.dump(pp, f, indent=2, sort_keys=True)
            f.write("\n")


def build_processor(backend):
    from transformers import AutoTokenizer, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor
    kw = dict(patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3,
              min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    if backend == "pil":
        ip = Qwen2VLImageProcessorPil(**kw)
    else:
        from transformers import Qwen2VLImageProcessor   # torchvision backend
        ip = Qwen2VLImageProcessor(**kw)
    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    tok.padding_side = "right"
    vp = Qwen3VLVideoProcessor(patch_size=16, temporal_patch_size=2, merge_size=2,
                               image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return Qwen3VLProcessor(image_processor=ip, tokenizer=tok, video_processor=vp, chat_template=CHAT_TEMPLATE)


def load_images(inputs):
    from qwen_vl_utils import fetch_image
    out = []
    for inp in inputs:
        for rel in inp["images"]:
            out.append(fetch_image({"image": os.path.join(FIX, rel), "min_pixels": MIN_PIXELS,
                                    "max_pixels": MAX_PIXELS}, image_patch_size=IMAGE_PATCH_SIZE))
    return out


def encode(proc, prompts, images):
    enc = proc(text=prompts, images=images if images else None, do_resize=False, padding=True,
               truncation=True, max_length=8192, return_tensors="pt")
    return dict(enc.items())


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
def redraw_parameters(model, g, used_ids):
    """Re-draw EVERY parameter from generator `g` (transformers' init leaves norms at 1 and
    biases at 0, which would hide a port that forgets them): norm weights 1 + 0.1N, norm and
    other biases 0.05N, embeddings and pos_embed 0.5N, matrices 0.05N. Then zero every
    embed_tokens row no fixture uses, so git compresses the table away. Returns the parameter
    names (sorted, in draw order) and the mask of kept embedding rows."""
    names = []
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            names.append(name)
            if name.endswith("norm.weight") or "norm1" in name or "norm2" in name or "q_norm" in name or "k_norm" in name:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name or "pos_embed" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
        emb = model.model.language_model.embed_tokens.weight
        keep = torch.zeros(emb.shape[0], dtype=torch.bool)
        keep[torch.tensor(sorted(used_ids))] = True
        emb[~keep] = 0.0
    return names, keep


def make_model(used_ids):
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
    tc = dict(TEXT)
    tc["rope_parameters"] = dict(ROPE, rope_theta=float(ROPE_THETA))
    torch.manual_seed(1234)
    config = Qwen3VLConfig(text_config=tc, vision_config=dict(VISION), **TOP)
    model = Qwen3VLForConditionalGeneration(config).eval()
    g = torch.Generator().manual_seed(20240601)
    names, keep = redraw_parameters(model, g, used_ids)
    emb = model.model.language_model.embed_tokens.weight
    assert not any(n.startswith("lm_head") for n in names), names  # tied
    assert model.lm_head.weight.data_ptr() == emb.data_ptr()
    log(f"params: {sum(p.numel() for p in model.parameters())}, embed rows kept: {int(keep.sum())}")
    return model.to(torch.bfloat16)


def save_checkpoints(model):
    tmp = os.path.join(WORK, "tmp_save")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    files = sorted(os.listdir(tmp))
    assert "model.safetensors" in files, files
    shutil.copy(os.path.join(tmp, "model.safetensors"), os.path.join(MODEL_DIR, "model.safetensors"))
    with open(os.path.join(MODEL_DIR, "config.json"), "w") as f:
        json.dump(released_config(), f, indent=2)
        f.write("\n")
    gen = json.load(open(os.path.join(tmp, "config.json")))  # transformers-5 layout (rope_parameters)
    shutil.rmtree(tmp)

    sd = {}
    with safe_open(os.path.join(MODEL_DIR, "model.safetensors"), "pt") as f:
        for k in f.keys():
            t = f.get_tensor(k)
            assert t.dtype == torch.bfloat16, (k, t.dtype)
            sd[k] = t
    assert all(k.startswith("model.visual.") or k.startswith("model.language_model.") for k in sd), sorted(sd)
    assert not any(k.startswith("lm_head") for k in sd)

    # Sharded f32 copy + an unused lm_head (values differ from embed_tokens; unused rows zero)
    f32 = {k: v.float().contiguous() for k, v in sd.items()}
    emb = f32["model.language_model.embed_tokens.weight"]
    g = torch.Generator().manual_seed(777)
    lm = 0.5 * torch.randn(emb.shape, generator=g)
    lm[(emb == 0).all(dim=1)] = 0.0
    f32["lm_head.weight"] = lm.to(torch.bfloat16).float().contiguous()
    names = sorted(f32)
    shard1 = [n for n in names if n.startswith("model.language_model.")]
    shard2 = [n for n in names if n not in shard1]           # model.visual.* and lm_head.weight
    wmap = {}
    for i, part in enumerate((shard1, shard2), 1):
        fn = f"model-{i:05d}-of-00002.safetensors"
        save_file({n: f32[n] for n in part}, os.path.join(SHARD_DIR, fn), metadata={"format": "pt"})
        wmap.update({n: fn for n in part})
    total = sum(t.numel() * 4 for t in f32.values())
    with open(os.path.join(SHARD_DIR, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wmap.items()))}, f, indent=2)
        f.write("\n")
    assert "rope_parameters" in gen["text_config"], gen["text_config"]
    gen["dtype"] = "float32"
    gen["text_config"]["dtype"] = "float32"
    gen["tie_word_embeddings"] = False          # an untied checkpoint carrying lm_head (like the 8B)
    gen["text_config"]["tie_word_embeddings"] = False
    gen.pop("transformers_version", None)
    gen["transformers_version"] = transformers.__version__
    with open(os.path.join(SHARD_DIR, "config.json"), "w") as f:
        json.dump(gen, f, indent=2, sort_keys=True)
        f.write("\n")
    return sd


def load_reference_model(path):
    from transformers import Qwen3VLForConditionalGeneration
    m = Qwen3VLForConditionalGeneration.from_pretrained(path, dtype=torch.float32, attn_implementation=ATTN).eval()
    rp = m.config.text_config.rope_parameters
    assert rp["mrope_section"] == [6, 5, 5] and rp["mrope_interleaved"] and float(rp["rope_theta"]) == 5e6, rp
    assert m.config.text_config.head_dim == 32 and m.config.vision_config.deepstack_visual_indexes == [0, 2]
    return m


def position_ids_for(base, enc):
    am = enc["attention_mask"]
    if "image_grid_thw" in enc:
        pos, _ = base.get_rope_index(enc["input_ids"], enc["mm_token_type_ids"], enc["image_grid_thw"], None, am)
    else:
        pos = (am.cumsum(-1) - 1).unsqueeze(0).expand(3, -1, -1).clone()
    pos = pos.clone()
    pos[:, am == 0] = 1          # pads get position 1 (transformers 4.57 / spec convention)
    return pos.to(torch.int64)


def run_case(base, enc):
    pos = position_ids_for(base, enc)
    kw = dict(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], position_ids=pos, use_cache=False)
    if "pixel_values" in enc:
        kw.update(pixel_values=enc["pixel_values"], image_grid_thw=enc["image_grid_thw"],
                  mm_token_type_ids=enc["mm_token_type_ids"])
    base.rope_deltas = None
    with torch.no_grad():
        out = base(**kw)
    return pos, out


def pool(hs, am):
    col = am.shape[1] - am.flip(dims=[1]).argmax(dim=1) - 1
    return hs[torch.arange(hs.shape[0]), col], col


def l2(x):
    return torch.nn.functional.normalize(x, p=2, dim=-1, eps=1e-12)


# ----------------------------------------------------------------------------------------------
# Resize oracle
# ----------------------------------------------------------------------------------------------
RESIZE = [  # (src w, h, seed, target W, H, note)
    (64, 48, 21, 64, 64, "up on one axis only (height 48->64)"),
    (77, 131, 22, 64, 128, "down on both axes, odd source (smart_resize of 77x131)"),
    (16, 16, 23, 64, 64, "4x upscale"),
    (176, 96, 24, 192, 96, "width up, height unchanged"),
    (100, 80, 25, 96, 64, "down on both axes, non-integer ratios"),
    (150, 110, 26, 17, 13, "strong downscale (~8.5x), non-square target"),
    (190, 6, 27, 192, 32, "extreme aspect: width ~same, height 6->32 (upscale)"),
    (5, 150, 28, 32, 64, "extreme aspect: width up 5->32, height down 150->64"),
    (50, 40, 29, 50, 40, "identity (Pillow returns a copy, no resampling)"),
    (120, 90, 30, 128, 96, "mild upscale on both axes"),
    (90, 70, 31, 96, 64, "width up, height down"),
]


def write_resize_oracle():
    tensors, meta = {}, []
    for i, (w, h, seed, W, H, note) in enumerate(RESIZE):
        src = pattern(w, h, seed, checker=3)
        out = np.asarray(Image.fromarray(src, "RGB").resize((W, H), Image.BICUBIC))
        tensors[f"src_{i}"] = torch.from_numpy(np.ascontiguousarray(src))
        tensors[f"out_{i}"] = torch.from_numpy(np.ascontiguousarray(out))
        meta.append({"index": i, "src": f"src_{i}", "out": f"out_{i}", "src_w": w, "src_h": h,
                     "dst_w": W, "dst_h": H, "filter": "BICUBIC", "note": note})
    save_file(tensors, os.path.join(REF_DIR, "resize_cases.safetensors"),
              metadata={"pillow": Image.__version__, "layout": "uint8 [h, w, 3] RGB"})
    with open(os.path.join(REF_DIR, "resize_cases.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------------
def main():
    os.makedirs(REF_DIR, exist_ok=True)
    log("versions:", VERSIONS)
    write_images()
    write_tokenizers()
    write_resize_oracle()

    from tokenizers import Tokenizer
    tk_eos = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    tk_plain = Tokenizer.from_file(os.path.join(SHARD_DIR, "tokenizer.json"))
    proc = build_processor("pil")
    proc_tv = build_processor("torchvision")
    log("processor:", type(proc).__name__, "| image processor:", type(proc.image_processor).__name__,
        "| compare:", type(proc_tv.image_processor).__name__, "| tokenizer:", type(proc.tokenizer).__name__)

    # spec examples A and B
    a_prompt = render_prompt(I(NIGHT, instruction=SETTINGS))
    assert tk_eos.encode(a_prompt, add_special_tokens=True).ids == EXAMPLE_A_IDS
    assert proc.tokenizer(a_prompt)["input_ids"] == EXAMPLE_A_IDS
    assert tk_plain.encode(a_prompt, add_special_tokens=True).ids == EXAMPLE_A_IDS[:-1]
    assert tk_eos.encode(render_prompt(I(NIGHT)), add_special_tokens=True).ids == EXAMPLE_B_IDS
    # our renderer == the chat template on a structured conversation
    conv = [{"role": "system", "content": [{"type": "text", "text": normalise_instruction(SETTINGS)}]},
            {"role": "user", "content": [{"type": "image", "image": "x"}, {"type": "text", "text": NIGHT}]}]
    assert proc.apply_chat_template([conv], add_generation_prompt=True, tokenize=False)[0] == \
        render_prompt(I(NIGHT, ["x"], SETTINGS))

    # encode every case (needs no model) and collect the token ids the model will see
    encoded, used = {}, set()
    for name, inputs, note in CASES:
        prompts = [render_prompt(x) for x in inputs]
        images = load_images(inputs)
        enc = encode(proc, prompts, images)
        encoded[name] = (prompts, images, enc)
        used |= set(enc["input_ids"][enc["attention_mask"] == 1].tolist())
        assert EOS_ID in enc["input_ids"].tolist()[0]
    assert encoded["text"][2]["input_ids"][0].tolist() == EXAMPLE_A_IDS
    assert encoded["text_default_instruction"][2]["input_ids"][0].tolist() == EXAMPLE_B_IDS
    log(f"{len(used)} distinct token ids used by the cases")

    model = make_model(used)
    sd_bf16 = save_checkpoints(model)
    del model

    ref = load_reference_model(MODEL_DIR)
    for k, v in ref.state_dict().items():
        src = sd_bf16.get(k)
        if src is None:
            assert k == "lm_head.weight", k
            src = sd_bf16["model.language_model.embed_tokens.weight"]
        assert v.dtype == torch.float32 and torch.equal(v, src.float()), k
    base = ref.model

    cases_json, tv_report = [], []
    for name, inputs, note in CASES:
        prompts, images, enc = encoded[name]
        pos, out = run_case(base, enc)
        hs = out.last_hidden_state.float()
        am = enc["attention_mask"]
        pooled, col = pool(hs, am)
        assert (enc["input_ids"][torch.arange(len(col)), col] == EOS_ID).all(), name
        t = {
            "input_ids": enc["input_ids"].to(torch.int64),
            "attention_mask": am.to(torch.int64),
            "position_ids": pos,
            "last_hidden_state": hs,
            "embedding": l2(pooled),
            "embedding_dim32": l2(pooled[:, :32]),
        }
        if "pixel_values" in enc:
            pv = enc["pixel_values"].float()
            vis = out.image_outputs
            t["image_grid_thw"] = enc["image_grid_thw"].to(torch.int64)
            t["mm_token_type_ids"] = enc["mm_token_type_ids"].to(torch.int64)
            t["vision_hidden"] = vis.last_hidden_state.float()
            t["vision_merged"] = torch.cat(vis.pooler_output, 0).float()
            for j, feat in enumerate(vis.deepstack_features):
                t[f"deepstack_{j}"] = torch.cat(feat, 0).float()
            if name == "large_image":
                rows = torch.arange(0, pv.shape[0], 61, dtype=torch.int64)
                t["pixel_values_rows"] = rows
                t["pixel_values_sampled"] = pv[rows]
            else:
                t["pixel_values"] = pv
            # the decoded (pre-resize) RGB of each image, to tell decoder from resampler differences
            k = 0
            for inp in inputs:
                for rel in inp["images"]:
                    if name != "large_image":
                        from qwen_vl_utils.vision_process import to_rgb
                        t[f"decoded_rgb_{k}"] = torch.from_numpy(
                            np.ascontiguousarray(np.asarray(to_rgb(Image.open(os.path.join(FIX, rel))))))
                    k += 1
            # PIL vs torchvision image processor on the same resized images
            tv = proc_tv.image_processor(images=images, do_resize=False, return_tensors="pt")["pixel_values"]
            d = (tv.float() - pv).abs()
            tv_report.append((name, float(d.max()), int((d > 0).sum()), pv.numel()))
        t = {k: v.contiguous() for k, v in t.items()}
        meta = {"prompts": json.dumps(prompts, ensure_ascii=False), "attn_implementation": ATTN,
                "image_processor": type(proc.image_processor).__name__, "dtype": "float32 (bf16-rounded weights)",
                **{f"{k}_version": v for k, v in VERSIONS.items()}}
        save_file(t, os.path.join(REF_DIR, f"{name}.safetensors"), metadata=meta)
        cases_json.append({"name": name, "inputs": inputs, "prompts": prompts, "note": note})
        gi = t["image_grid_thw"].tolist() if "image_grid_thw" in t else None
        log(f"{name:26s} B={hs.shape[0]} S={hs.shape[1]} grid={gi} emb[0,:4]={[round(x, 5) for x in t['embedding'][0, :4].tolist()]}")
        # sanity: the implicit transformers-5 positions give the same real-token states
        if name in ("text", "batch", "two_images"):
            kw = dict(input_ids=enc["input_ids"], attention_mask=am, use_cache=False)
            if "pixel_values" in enc:
                kw.update(pixel_values=enc["pixel_values"], image_grid_thw=enc["image_grid_thw"],
                          mm_token_type_ids=enc["mm_token_type_ids"])
            base.rope_deltas = None
            with torch.no_grad():
                hs2 = base(**kw).last_hidden_state
            assert torch.equal(hs2[am == 1], hs[am == 1]), name
    with open(os.path.join(REF_DIR, "cases.json"), "w") as f:
        json.dump(cases_json, f, indent=2, ensure_ascii=False)
        f.write("\n")

    # the sharded f32 checkpoint (new config layout, extra lm_head) gives identical results
    shard = load_reference_model(SHARD_DIR)
    assert not shard.config.tie_word_embeddings
    for name in ("text", "two_images", "batch"):
        _, _, enc = encoded[name]
        _, o1 = run_case(base, enc)
        _, o2 = run_case(shard.model, enc)
        assert torch.equal(o1.last_hidden_state, o2.last_hidden_state), name
    del shard

    # tokenizer cases
    tok_cases = []
    seen = set()
    texts = [p for _, _, (prompts, _, _) in [(n, i, encoded[n]) for n, i, _ in CASES] for p in prompts]
    texts += [a_prompt] + [render_prompt(I(s)) for s in TRICKY]
    for s in texts:
        if s in seen:
            continue
        seen.add(s)
        ids = tk_eos.encode(s, add_special_tokens=True).ids
        assert ids == proc.tokenizer(s)["input_ids"], s
        assert ids[-1] == EOS_ID and tk_plain.encode(s, add_special_tokens=True).ids == ids[:-1]
        tok_cases.append({"text": s, "ids": ids})
    assert {"text": a_prompt, "ids": EXAMPLE_A_IDS} in tok_cases
    with open(os.path.join(REF_DIR, "tokenizer_cases.json"), "w") as f:
        json.dump(tok_cases, f, indent=1, ensure_ascii=False)
        f.write("\n")

    log("PIL vs torchvision image processor (same resized images, do_resize=False):")
    for name, mx, n, tot in tv_report:
        log(f"  {name:14s} max|diff|={mx:.3g} differing={n}/{tot}")
    log("done")


if __name__ == "__main__":
    main()
