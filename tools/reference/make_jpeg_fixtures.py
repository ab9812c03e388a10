"""Small JPEGs and Pillow's decode of each: the oracle for our libjpeg-turbo-exact JPEG decoder.

Needs only Pillow 13.0.0 and numpy (no torch/transformers):

    python3 -m venv /tmp/pillow-venv && /tmp/pillow-venv/bin/pip install pillow==13.0.0 numpy
    /tmp/pillow-venv/bin/python tools/reference/make_jpeg_fixtures.py [--with-cjpeg]

Writes
  tests/fixtures/images/jpeg/*.jpg                  one file per case below (a few KB each);
                                                    the cjpeg_* files are sampling layouts and
                                                    colour spaces Pillow cannot write (4:4:0,
                                                    4:1:1, RGB): committed inputs, re-made only
                                                    with --with-cjpeg (needs libjpeg-turbo's
                                                    cjpeg, e.g. apt install libjpeg-turbo-progs);
                                                    fallback_* are kinds left to zune-jpeg (CMYK),
                                                    stored without a reference
  tests/fixtures/reference/jpeg_decode.safetensors  uint8 [h, w, 3]: what the reference pipeline
                                                    sees for each file, i.e. qwen_vl_utils' to_rgb
                                                    (Image.open(path).convert("RGB")), keyed by the
                                                    path under tests/fixtures/ (the existing
                                                    images/photo_120x90.jpg, made by
                                                    make_fixtures.py, is included too)

Pillow decodes with its bundled libjpeg-turbo at the defaults (islow IDCT, fancy upsampling).
The test crates/qwen3-vl-preprocess/tests/jpeg_exact.rs requires our decode to equal every
tensor byte for byte. Encoding and decoding are deterministic for a given Pillow build; the
versions used are stored in the file's metadata.
"""
import io
import json
import os
import struct
import sys

import numpy as np
import PIL
from PIL import Image, features

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT_DIR = os.path.join(FIX, "images", "jpeg")
REF = os.path.join(FIX, "reference", "jpeg_decode.safetensors")


def picture(w, h, seed):
    """Gradients, hard-edged bars, saturated patches and a noise block: smooth areas exercise the
    upsampling filters, edges and noise the IDCT's clamping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 4 % 256], -1).astype(np.int32)
    for top in range(1, h - 2, 7):                      # dark "text" strokes
        left = int(rng.integers(0, 4))
        img[top:top + 2, left:left + int(rng.integers(w // 3, w))] = rng.integers(0, 60, 3)
    img[h // 2:, : w // 3] = (255, 0, 0)                # saturated red
    img[: h // 3, w - w // 4:] = (0, 0, 255)            # saturated blue
    nh, nw = max(1, h // 4), max(1, w // 4)
    img[h - nh:, w - nw:] = rng.integers(0, 256, (nh, nw, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


# (file name, size, mode, save options): the kinds our decoder claims to match exactly.
CASES = [
    ("baseline_420_q85_33x17.jpg", (33, 17), "RGB", dict(quality=85)),
    ("baseline_420_q85_4x9.jpg", (4, 9), "RGB", dict(quality=85)),          # chroma 2 wide: no fancy filter
    ("baseline_420_q85_1x1.jpg", (1, 1), "RGB", dict(quality=85)),
    ("baseline_422_q90_47x31.jpg", (47, 31), "RGB", dict(quality=90, subsampling=1)),
    ("baseline_444_q95_40x24.jpg", (40, 24), "RGB", dict(quality=95, subsampling=0)),
    ("baseline_420_q85_45x20.jpg", (45, 20), "RGB", dict(quality=85)),
    ("baseline_420_q100_32x32.jpg", (32, 32), "RGB", dict(quality=100)),    # all-1 quantisers
    ("baseline_420_q5_48x40.jpg", (48, 40), "RGB", dict(quality=5)),        # coarse, overshooting
    ("baseline_420_optimized_40x30.jpg", (40, 30), "RGB", dict(quality=80, optimize=True)),
    ("restart_420_q85_50x34.jpg", (50, 34), "RGB", dict(quality=85, restart_marker_blocks=2)),
    ("progressive_420_q80_49x37.jpg", (49, 37), "RGB", dict(quality=80, progressive=True)),
    ("progressive_444_q92_36x28.jpg", (36, 28), "RGB", dict(quality=92, progressive=True, subsampling=0)),
    ("progressive_restart_420_q75_40x33.jpg", (40, 33), "RGB",
     dict(quality=75, progressive=True, restart_marker_rows=1)),
    ("grey_q85_37x29.jpg", (37, 29), "L", dict(quality=85)),
    ("grey_progressive_q70_30x22.jpg", (30, 22), "L", dict(quality=70, progressive=True)),
    ("exif_rotated_420_q85_24x16.jpg", (24, 16), "RGB", dict(quality=85, exif="orientation 6")),
]
EXISTING = ["images/photo_120x90.jpg"]
# Kinds our decoder leaves to the fallback (zune-jpeg, not exact): written for the test that
# they still decode; no reference is stored for them.
FALLBACK_CASES = [
    ("fallback_cmyk_q85_16x12.jpg", (16, 12), "CMYK", dict(quality=85)),
]
# (file name, size, cjpeg options): inputs only cjpeg writes; their reference is still Pillow's decode.
CJPEG_CASES = [
    ("cjpeg_440_q85_37x26.jpg", (37, 26), ["-quality", "85", "-sample", "1x2,1x1,1x1"]),
    ("cjpeg_411_q85_45x20.jpg", (45, 20), ["-quality", "85", "-sample", "4x1,1x1,1x1"]),
    ("cjpeg_rgb_q90_30x20.jpg", (30, 20), ["-quality", "90", "-rgb"]),
]


def encode(size, mode, opts, seed):
    w, h = size
    arr = picture(w, h, seed)
    im = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        im = im.convert(mode)
    opts = dict(opts)
    if opts.get("exif") == "orientation 6":           # Pillow does not rotate on open; neither do we
        exif = Image.Exif()
        exif[0x0112] = 6
        opts["exif"] = exif.tobytes()
    buf = io.BytesIO()
    im.save(buf, "JPEG", **opts)
    return buf.getvalue()


def decoded(path):
    """What qwen_vl_utils.fetch_image hands on: to_rgb(Image.open(path)) (no alpha here)."""
    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def save_safetensors(tensors, path, metadata):
    """uint8 tensors in the safetensors layout, header keys sorted (byte-stable output)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].tobytes()
        header[name] = {"dtype": "U8", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    hb = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))


def run_cjpeg(size, args, seed, path):
    import subprocess
    import tempfile
    w, h = size
    with tempfile.NamedTemporaryFile(suffix=".ppm") as ppm:
        Image.fromarray(picture(w, h, seed), "RGB").save(ppm.name)
        subprocess.run(["cjpeg", *args, "-outfile", path, ppm.name], check=True)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    tensors = {}
    for seed, (name, size, args) in enumerate(CJPEG_CASES, start=100):
        path = os.path.join(OUT_DIR, name)
        if "--with-cjpeg" in sys.argv:
            run_cjpeg(size, args, seed, path)
        tensors[f"images/jpeg/{name}"] = decoded(path)
    for seed, (name, size, mode, opts) in enumerate(CASES):
        path = os.path.join(OUT_DIR, name)
        with open(path, "wb") as f:
            f.write(encode(size, mode, opts, seed))
        tensors[f"images/jpeg/{name}"] = decoded(path)
    for name, size, mode, opts in FALLBACK_CASES:
        with open(os.path.join(OUT_DIR, name), "wb") as f:
            f.write(encode(size, mode, opts, 200))
    for rel in EXISTING:
        tensors[rel] = decoded(os.path.join(FIX, rel))
    meta = {"pillow": PIL.__version__, "libjpeg_turbo": str(features.version("libjpeg_turbo")),
            "layout": "uint8 [h, w, 3] RGB, Image.open(path).convert('RGB')",
            "cases": json.dumps([[n, list(s), m, {k: str(v) for k, v in o.items()}] for n, s, m, o in CASES]),
            "cjpeg_cases": json.dumps([[n, list(s), a] for n, s, a in CJPEG_CASES])}
    save_safetensors(tensors, REF, meta)
    for k, v in sorted(tensors.items()):
        print(f"{k:55s} {v.shape[1]}x{v.shape[0]}  {os.path.getsize(os.path.join(FIX, k))} bytes")
    print("wrote", os.path.relpath(REF, ROOT), os.path.getsize(REF), "bytes; Pillow", PIL.__version__,
          "libjpeg-turbo", meta["libjpeg_turbo"])


if __name__ == "__main__":
    main()
