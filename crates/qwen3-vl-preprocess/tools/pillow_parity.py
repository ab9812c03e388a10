#!/usr/bin/env python3
"""Byte-for-byte parity of our resize and decode against Pillow (development check).

Needs a throwaway venv outside the repo:
    python3 -m venv /tmp/pillow-venv && /tmp/pillow-venv/bin/pip install pillow==13.0.0 numpy
Run from the workspace root:
    CARGO_TARGET_DIR=/work/target-preprocess cargo build -p qwen3-vl-preprocess --example pillow_parity
    /tmp/pillow-venv/bin/python crates/qwen3-vl-preprocess/tools/pillow_parity.py \
        /work/target-preprocess/debug/examples/pillow_parity [resize|decode] [N]
"""
import io
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image


def to_rgb(im):
    """qwen_vl_utils.to_rgb: RGBA pasted on white with its alpha as mask, else convert."""
    if im.mode == "RGBA":
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.split()[3])
        return bg
    return im.convert("RGB")


def random_image(rng, w, h):
    kind = rng.integers(4)
    if kind == 0:  # noise: worst case for overshoot and clipping
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == 1:  # hard edges
        a = np.zeros((h, w, 3), np.uint8)
        a[:, : w // 2] = 255
        a[h // 3 :, :, 1] = rng.integers(256)
        return a
    if kind == 2:  # blocks of noise
        small = rng.integers(0, 256, (max(1, h // 7), max(1, w // 7), 3), dtype=np.uint8)
        return np.array(Image.fromarray(small).resize((w, h), Image.NEAREST))
    yy, xx = np.mgrid[0:h, 0:w]  # smooth gradient
    return np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), (xx ^ yy) & 255], -1).astype(np.uint8)


def random_size(rng):
    mode = rng.integers(6)
    if mode == 0:
        return int(rng.integers(1, 8)), int(rng.integers(1, 8))
    return int(rng.integers(1, 400)), int(rng.integers(1, 400))


def resize_cases(rng, n):
    cases = []
    for i in range(n):
        w, h = random_size(rng)
        kind = i % 5
        if kind == 0:  # one axis only
            ow, oh = (int(rng.integers(1, 500)), h) if rng.integers(2) else (w, int(rng.integers(1, 500)))
        elif kind == 1:  # qwen budget path
            ow, oh = max(32, round(w / 32) * 32), max(32, round(h / 32) * 32)
        else:
            ow, oh = random_size(rng)
        cases.append((random_image(rng, w, h), ow, oh))
    # Real smart_resize outputs for photo-sized inputs (spec 4.2 examples).
    for (w, h, ow, oh) in [(1920, 1080, 1792, 992), (1280, 720, 1280, 704), (3000, 4000, 1152, 1536),
                           (640, 480, 640, 480), (80, 80, 64, 64), (112, 48, 128, 64), (16, 16, 64, 64)]:
        cases.append((random_image(rng, w, h), ow, oh))
    return cases


def check_resize(binary, n):
    rng = np.random.default_rng(1234)
    cases = resize_cases(rng, n)
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "cases.bin"), os.path.join(d, "out.bin")
        with open(inp, "wb") as f:
            for a, ow, oh in cases:
                f.write(struct.pack("<4I", a.shape[1], a.shape[0], ow, oh) + a.tobytes())
        subprocess.run([binary, "resize", inp, out], check=True)
        ours = open(out, "rb").read()
    at, worst, exact, mismatched = 0, 0, 0, []
    for i, (a, ow, oh) in enumerate(cases):
        want = np.asarray(Image.fromarray(a).resize((ow, oh)))  # default filter: BICUBIC
        got = np.frombuffer(ours[at : at + ow * oh * 3], np.uint8).reshape(oh, ow, 3)
        at += ow * oh * 3
        diff = int(np.abs(want.astype(int) - got).max())
        worst = max(worst, diff)
        exact += diff == 0
        if diff:
            mismatched.append((i, a.shape[1], a.shape[0], ow, oh, diff))
    print(f"resize: {len(cases)} cases, {exact} byte-exact, max abs diff {worst}")
    for m in mismatched[:10]:
        print("  mismatch case %d: %dx%d -> %dx%d, max diff %d" % m)
    return worst == 0


def decode_cases(rng):
    """(name, encoded bytes) pairs covering the modes the reference can meet."""
    out = []
    def save(name, im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        out.append((name, b.getvalue()))
    for w, h in [(1, 1), (7, 5), (33, 17), (64, 48), (257, 131)]:
        rgb = random_image(rng, w, h)
        alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
        grey = rgb[..., 0]
        tag = f"{w}x{h}"
        save(f"rgb_{tag}.png", Image.fromarray(rgb), "PNG")
        save(f"rgba_{tag}.png", Image.fromarray(np.dstack([rgb, alpha])), "PNG")
        save(f"l_{tag}.png", Image.fromarray(grey), "PNG")
        save(f"la_{tag}.png", Image.fromarray(np.dstack([grey, alpha]), "LA"), "PNG")
        p = Image.fromarray(rgb).quantize(colors=int(rng.integers(2, 256)))
        save(f"p_{tag}.png", p, "PNG")
        save(f"p_trns_{tag}.png", p, "PNG", transparency=0)
        save(f"p_{tag}.gif", p, "GIF")
        save(f"p_trns_{tag}.gif", p, "GIF", transparency=1)
        save(f"l_{tag}.gif", Image.fromarray(grey), "GIF")
        save(f"1bit_{tag}.png", Image.fromarray(grey).convert("1"), "PNG")
        save(f"i16_{tag}.png", Image.fromarray(rgb[..., 0].astype(np.uint16) * 3), "PNG")
        save(f"rgb_lossless_{tag}.webp", Image.fromarray(rgb), "WEBP", lossless=True)
        save(f"rgba_lossless_{tag}.webp", Image.fromarray(np.dstack([rgb, alpha])), "WEBP", lossless=True)
        save(f"rgb_lossy_{tag}.webp", Image.fromarray(rgb), "WEBP", quality=80)
        save(f"rgba_lossy_{tag}.webp", Image.fromarray(np.dstack([rgb, alpha])), "WEBP", quality=80)
        for sub in (0, 1, 2):
            save(f"rgb_q90_s{sub}_{tag}.jpg", Image.fromarray(rgb), "JPEG", quality=90, subsampling=sub)
        save(f"l_{tag}.jpg", Image.fromarray(grey), "JPEG", quality=85)
        save(f"rgb_progressive_{tag}.jpg", Image.fromarray(rgb), "JPEG", quality=75, progressive=True)
        # The kinds our own JPEG decoder claims to match exactly (src/image/jpeg/).
        save(f"rgb_progressive_444_{tag}.jpg", Image.fromarray(rgb), "JPEG", quality=90, progressive=True, subsampling=0)
        save(f"l_progressive_{tag}.jpg", Image.fromarray(grey), "JPEG", quality=60, progressive=True)
        save(f"rgb_restart_{tag}.jpg", Image.fromarray(rgb), "JPEG", quality=85, restart_marker_blocks=2)
        save(f"rgb_progressive_restart_{tag}.jpg", Image.fromarray(rgb), "JPEG", quality=80, progressive=True,
             restart_marker_rows=1)
        save(f"rgb_optimized_{tag}.jpg", Image.fromarray(rgb), "JPEG", quality=80, optimize=True)
        for q in (1, 100):
            save(f"rgb_q{q}_{tag}.jpg", Image.fromarray(rgb), "JPEG", quality=q)
    return out


def check_decode(binary):
    rng = np.random.default_rng(99)
    cases = decode_cases(rng)
    results = {}
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for name, data in cases:
            path = os.path.join(d, name)
            open(path, "wb").write(data)
            paths.append(path)
        subprocess.run([binary, "decode", *paths], check=True)
        for (name, data), path in zip(cases, paths):
            want = np.asarray(to_rgb(Image.open(io.BytesIO(data))))
            if os.path.exists(path + ".err"):
                results.setdefault(kind_of(name), []).append((name, None, open(path + ".err").read()))
                continue
            raw = open(path + ".rgb", "rb").read()
            w, h = struct.unpack("<2I", raw[:8])
            got = np.frombuffer(raw[8:], np.uint8).reshape(h, w, 3)
            diff = int(np.abs(want.astype(int) - got).max()) if got.shape == want.shape else 999
            results.setdefault(kind_of(name), []).append((name, diff, ""))
    ok = True
    for kind, rows in sorted(results.items()):
        diffs = [r[1] for r in rows if r[1] is not None]
        errs = [r for r in rows if r[1] is None]
        exact = sum(1 for x in diffs if x == 0)
        print(f"decode {kind:22s}: {len(rows)} files, {exact} exact, max diff {max(diffs, default=0)}, {len(errs)} errors")
        for e in errs[:2]:
            print("   ", e[0], e[2])
        ok &= exact == len(rows)
    return ok


def kind_of(name):
    return name.rsplit("_", 1)[0]


if __name__ == "__main__":
    binary = sys.argv[1]
    what = sys.argv[2] if len(sys.argv) > 2 else "all"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    ok = True
    if what in ("resize", "all"):
        ok &= check_resize(binary, n)
    if what in ("decode", "all"):
        ok &= check_decode(binary)
    sys.exit(0 if ok else 1)
