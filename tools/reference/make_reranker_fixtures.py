"""Generate the reranker parity fixtures under tests/fixtures/reranker/ (CPU, deterministic).

    bash tools/reference/setup.sh && ref-work/venv/bin/python tools/reference/make_reranker_fixtures.py

What it writes:
  tests/fixtures/reranker/tiny-reranker/   a tiny random Qwen3-VL checkpoint (the same tiny config as
                                           make_fixtures.py, tied embeddings, bf16, released config
                                           layout) with the plain npm tokenizer (appends no EOS)
  tests/fixtures/reranker/cases.json       (query, document) pairs, their prompts, input ids and the
                                           reference score sigmoid(logit_yes - logit_no)

The reference follows the Qwen3-VL-Reranker recipe (spec section 8): the fixed system text, the
"<Instruct>: I<Query>:...\\n<Document>:..." user turn (images before text, "NULL" when empty, no
instruction normalisation), the generation prompt, no <|endoftext|>, qwen_vl_utils image resize,
Qwen3VLForConditionalGeneration in float32 (eager attention) from the bf16-rounded weights, one pair
per forward pass, logits at the last position. Unused embedding rows are zero except yes (9693) and
no (2152), whose rows are drawn small so the scores stay away from 0 and 1.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (same tiny config, image loading, byte-stable safetensors)
import torch  # noqa: E402

OUT = os.path.join(mf.FIX, "reranker")
MODEL = os.path.join(OUT, "tiny-reranker")
YES, NO = 9693, 2152
SYSTEM = ('Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
          'Note that the answer can only be "yes" or "no".')
DEFAULT_INSTRUCTION = "Given a search query, retrieve relevant candidates that answer the query."
SHOT = "demo-library/screenshots/github_star.png"


def side(text=None, images=()):
    return {"text": text, "images": list(images)}


CASES = [
    ("text_text", None, side("Turn off Night Shift"), side("Open System Settings, Displays, and switch Night Shift off.")),
    ("custom_instruction", "Retrieve the GUI demonstration that shows how to complete the user's task",
     side("Star a repository"), side("Write a new email in Gmail")),
    ("document_image", None, side("Star the repository on GitHub"),
     side("Star the octo-org/hello-world repository on GitHub", [SHOT])),
    ("query_image", "Find the demo for this screen", side(None, ["images/rgb_64x48.png"]), side("Save the text file")),
    ("null_document", None, side("anything"), side()),
]


def items(s):
    out = "".join(mf.VISION_START + mf.IMAGE_PAD + mf.VISION_END for _ in s["images"])
    if s["text"]:
        out += s["text"]
    elif not s["images"]:
        out += "NULL"
    return out


def render(instruction, query, doc):
    instr = instruction if instruction is not None else DEFAULT_INSTRUCTION
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n<Instruct>: {instr}<Query>:{items(query)}"
            f"\n<Document>:{items(doc)}<|im_end|>\n<|im_start|>assistant\n")


def processor():
    from transformers import AutoTokenizer, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor
    kw = dict(patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3,
              min_pixels=mf.MIN_PIXELS, max_pixels=mf.MAX_PIXELS)
    tok = AutoTokenizer.from_pretrained(MODEL)
    vp = Qwen3VLVideoProcessor(patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return Qwen3VLProcessor(image_processor=Qwen2VLImageProcessorPil(**kw), tokenizer=tok, video_processor=vp,
                            chat_template=mf.CHAT_TEMPLATE)


def make_model(used_ids):
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
    tc = dict(mf.TEXT)
    tc["rope_parameters"] = dict(mf.ROPE, rope_theta=float(mf.ROPE_THETA))
    torch.manual_seed(4321)
    model = Qwen3VLForConditionalGeneration(Qwen3VLConfig(text_config=tc, vision_config=dict(mf.VISION), **mf.TOP)).eval()
    g = torch.Generator().manual_seed(20250707)
    mf.redraw_parameters(model, g, used_ids)
    emb = model.model.language_model.embed_tokens.weight
    with torch.no_grad():
        emb[YES] = 0.03 * torch.randn(emb.shape[1], generator=g)
        emb[NO] = 0.03 * torch.randn(emb.shape[1], generator=g)
    assert model.lm_head.weight.data_ptr() == emb.data_ptr()  # tied
    return model.to(torch.bfloat16)


def main():
    shutil.rmtree(MODEL, ignore_errors=True)
    os.makedirs(MODEL)
    shutil.copy(mf.NPM_TOKENIZER, os.path.join(MODEL, "tokenizer.json"))  # plain: appends no EOS
    for f in ("tokenizer_config.json", "preprocessor_config.json"):
        shutil.copy(os.path.join(mf.MODEL_DIR, f), os.path.join(MODEL, f))
    with open(os.path.join(MODEL, "config.json"), "w") as f:
        json.dump(mf.released_config(), f, indent=2)
        f.write("\n")

    proc = processor()
    encoded, used = [], {YES, NO}
    for name, instruction, query, doc in CASES:
        prompt = render(instruction, query, doc)
        images = mf.load_images([query, doc])
        enc = proc(text=[prompt], images=images or None, do_resize=False, return_tensors="pt")
        ids = enc["input_ids"][0].tolist()
        assert ids[-5:] == [151645, 198, 151644, 77091, 198] and mf.EOS_ID not in ids, name
        used |= set(ids)
        encoded.append((name, instruction, query, doc, prompt, dict(enc.items())))

    model = make_model(used)
    tmp = os.path.join(mf.WORK, "tmp_reranker")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    sd = {}
    from safetensors import safe_open
    with safe_open(os.path.join(tmp, "model.safetensors"), "pt") as f:
        for k in f.keys():
            sd[k] = f.get_tensor(k)
    shutil.rmtree(tmp)
    assert not any(k.startswith("lm_head") for k in sd) and all(v.dtype == torch.bfloat16 for v in sd.values())
    mf.save_file(sd, os.path.join(MODEL, "model.safetensors"), metadata={"format": "pt"})
    del model

    ref = mf.load_reference_model(MODEL)
    assert torch.equal(ref.lm_head.weight, ref.model.language_model.embed_tokens.weight)
    cases = []
    for name, instruction, query, doc, prompt, enc in encoded:
        pos = mf.position_ids_for(ref.model, enc)
        kw = dict(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], position_ids=pos, use_cache=False)
        if "pixel_values" in enc:
            kw.update(pixel_values=enc["pixel_values"], image_grid_thw=enc["image_grid_thw"],
                      mm_token_type_ids=enc["mm_token_type_ids"])
        ref.model.rope_deltas = None
        with torch.no_grad():
            logits = ref(**kw).logits[0, -1].float()
        diff = float(logits[YES] - logits[NO])
        score = float(torch.sigmoid(logits[YES] - logits[NO]))
        cases.append({"name": name, "instruction": instruction, "query": query, "document": doc, "prompt": prompt,
                      "input_ids": enc["input_ids"][0].tolist(), "logit_diff": diff, "score": score})
        mf.log(f"{name:20s} S={enc['input_ids'].shape[1]} logit_yes-no={diff:+.6f} score={score:.6f}")
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"versions": mf.VERSIONS, "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
