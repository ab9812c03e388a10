"""Runs our embedder and PyTorch side by side on the same inputs and prints one table.

usage: python driver.py --model DIR --ours BIN [--threads N] [--reps 5] [--cases a,b]
                        [--ours-devices cpu[,cpu:bf16,wgpu,wgpu:f16]] [--torch f32,bf16[,cuda-bf16]] [--out DIR]

Our worker stays loaded for the whole run; PyTorch configurations are loaded one at a time
beside it (memory: two 2B models in f32 need ~18 GB). Within each phase every case is run
once on each side as warm-up, then alternately (ours, torch, ours, torch, ...) `--reps` times;
the table shows medians and ratios taken within the phase, so both sides saw the same machine.
It also reports load times against the time to read the weight files, peak RSS, and the cosine
between our embedding and PyTorch's for item 0 of each case (the same random weights must give
the same vector: a speed table of a different computation would be meaningless).
"""
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

TEXT32 = "Turn off Night Shift and set the display brightness to fifty percent"  # 32 prompt tokens
DEMO_TASKS = [
    "Open Settings", "Turn on dark mode in the display preferences", "Mute notifications",
    "Pair the Bluetooth headphones named Studio", "Change the wallpaper to the blue gradient",
    "Empty the trash", "Show battery percentage in the menu bar", "Open the downloads folder and sort by date",
    "Set an alarm for seven in the morning", "Disable automatic updates for all applications",
    "Connect to the office Wi-Fi network", "Zoom in", "Turn off keyboard backlight after ten seconds",
    "Add a new printer", "Change the default browser", "Lock the screen",
]


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def screenshot(path, w, h, seed):
    """A GUI-like picture (window chrome, panels, buttons, text-like strokes), deterministic."""
    import random
    from PIL import Image, ImageDraw
    rnd = random.Random(seed)
    img = Image.new("RGB", (w, h), (236, 236, 240))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w, 28], fill=(210, 210, 215))
    for _ in range(40):
        x0, y0 = rnd.randrange(w), rnd.randrange(30, h)
        x1, y1 = min(w - 1, x0 + rnd.randrange(20, w // 3)), min(h - 1, y0 + rnd.randrange(10, h // 4))
        d.rectangle([x0, y0, x1, y1], fill=tuple(rnd.randrange(256) for _ in range(3)), outline=(60, 60, 60))
        for k in range(y0 + 4, y1 - 4, 9):
            d.line([x0 + 4, k, x0 + 4 + rnd.randrange(5, max(6, x1 - x0 - 8)), k], fill=(20, 20, 20))
    img.save(path)
    return path


def make_cases(out, wanted):
    os.makedirs(out, exist_ok=True)
    img512 = screenshot(os.path.join(out, "screen-512x512.png"), 512, 512, 1)
    img1280 = screenshot(os.path.join(out, "screen-1280x800.png"), 1280, 800, 2)
    demos = [{"text": t, "image": screenshot(os.path.join(out, f"demo-{i:02}.png"), 640, 400, 10 + i)}
             for i, t in enumerate(DEMO_TASKS)]
    cases = {
        "text32": [{"text": TEXT32}],
        "text+512x512": [{"text": "Turn off Night Shift", "image": img512}],
        "text+1280x800": [{"text": "Turn off Night Shift", "image": img1280}],
        "batch16 demos (640x400)": demos,
    }
    aliases = {"text32": "text32", "img512": "text+512x512", "img1280": "text+1280x800", "batch16": "batch16 demos (640x400)"}
    return {aliases[c]: cases[aliases[c]] for c in wanted}


class Worker:
    def __init__(self, label, cmd, env=None):
        self.label = label
        start = time.time()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self.ready = self._read()
        self.ready["wall_load_s"] = time.time() - start
        print(f"[{label}] loaded in {self.ready['load_s']:.1f} s (process start to ready {self.ready['wall_load_s']:.1f} s), "
              f"peak RSS {self.ready['rss_peak_gib']:.2f} GiB", file=sys.stderr, flush=True)

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"[{self.label}] worker exited (code {self.proc.wait()})")
        return json.loads(line)

    def run(self, case, items):
        self.proc.stdin.write(json.dumps({"case": case, "items": items}) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        print(f"[{self.label}] {case}: {reply['seconds']:.3f} s", file=sys.stderr, flush=True)
        return reply

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def read_time(model_dir):
    """Seconds to read every weight file once (page cache as it is: warm after a previous run)."""
    start, total = time.time(), 0
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".safetensors"):
            with open(os.path.join(model_dir, name), "rb", buffering=0) as f:
                while chunk := f.read(1 << 24):
                    total += len(chunk)
    return time.time() - start, total


def worker_flags(entry):
    """`cpu`, `wgpu`, or `DEVICE:DTYPE` (`cpu:bf16`: bf16 weights, f32 compute; `wgpu:f16`), with
    `:noprefix` at the end to run the instruction prefix in every call (`cpu:bf16:noprefix`)."""
    parts = entry.split(":")
    flags = ["--device", parts[0]]
    if parts[-1] == "noprefix":
        flags += ["--reuse-prefix", "off"]
        parts = parts[:-1]
    return flags + (["--dtype", parts[1]] if len(parts) > 1 else [])


def main():
    model, ours_bin = arg("--model", None), arg("--ours", None)
    threads = int(arg("--threads", str(os.cpu_count())))
    reps = int(arg("--reps", "5"))
    cases = make_cases(arg("--out", "/tmp/qwen3-vl-bench"), arg("--cases", "text32,img512,img1280,batch16").split(","))
    ours_devices = arg("--ours-devices", "cpu").split(",")
    torch_cfgs = arg("--torch", "f32,bf16").split(",")
    py = sys.executable
    thread_env = {"RAYON_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}

    read_s, nbytes = read_time(model)
    print(f"reading the weight files ({nbytes / 2**30:.2f} GiB): {read_s:.1f} s", file=sys.stderr)
    ours = {dev: Worker(f"ours-{dev}", [ours_bin, "--model", model, *worker_flags(dev)], thread_env) for dev in ours_devices}
    results = {"threads": threads, "reps": reps, "read_s": read_s, "weights_gib": nbytes / 2**30,
               "ours": {d: w.ready for d, w in ours.items()}, "phases": []}
    for cfg in torch_cfgs:
        device, dtype = ("cuda", cfg.split("-")[1]) if cfg.startswith("cuda") else ("cpu", cfg)
        torch = Worker(f"torch-{cfg}", [py, os.path.join(HERE, "torch_worker.py"), "--model", model, "--dtype", dtype,
                                        "--device", device, "--threads", str(threads)], thread_env)
        phase = {"torch": cfg, "torch_ready": torch.ready, "cases": {}}
        for case, items in cases.items():
            for w in [*ours.values(), torch]:        # warm-up
                w.run(case, items)
            samples = {label: [] for label in [*ours, "torch"]}
            firsts = {}
            for _ in range(reps):
                for label, w in [*ours.items(), ("torch", torch)]:
                    reply = w.run(case, items)
                    samples[label].append(reply["seconds"])
                    firsts[label] = reply["first"]
            phase["cases"][case] = {
                "median_s": {k: statistics.median(v) for k, v in samples.items()},
                "samples_s": samples,
                "cosine_to_torch": {d: cosine(firsts[d], firsts["torch"]) for d in ours},
                "tokens": reply.get("tokens"),
            }
        torch.close()
        phase["torch_rss_peak_gib"] = reply["rss_peak_gib"]
        results["phases"].append(phase)
    for d, w in ours.items():
        results["ours"][d]["rss_peak_gib_end"] = w.run("rss", [{"text": "x"}])["rss_peak_gib"]
        w.close()
    out = arg("--out", "/tmp/qwen3-vl-bench")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print_table(results, ours_devices)


def print_table(r, ours_devices):
    print(f"\nQwen3-VL-Embedding-2B architecture (random bf16 weights), {r['threads']} threads, "
          f"median of {r['reps']} (interleaved, after warm-up)\n")
    head = "| case | tokens | " + " | ".join(f"ours {d}" for d in ours_devices)
    for p in r["phases"]:
        head += f" | torch {p['torch']} | " + " | ".join(f"ours {d} / torch {p['torch']}" for d in ours_devices)
    print(head + " | cosine ours-torch |")
    print("|" + "---|" * (head.count("|") + 1))
    for case in r["phases"][0]["cases"]:
        first = r["phases"][0]["cases"][case]
        row = f"| {case} | {first['tokens']} | " + " | ".join(f"{first['median_s'][d]:.3f} s" for d in ours_devices)
        cos = []
        for p in r["phases"]:
            c = p["cases"][case]
            row += f" | {c['median_s']['torch']:.3f} s | " + " | ".join(
                f"{c['median_s'][d] / c['median_s']['torch']:.2f}x" for d in ours_devices)
            cos += [f"{p['torch']}: {c['cosine_to_torch'][d]:.6f}" for d in ours_devices]
        print(row + " | " + ", ".join(cos) + " |")
    print(f"\nweights {r['weights_gib']:.2f} GiB; reading the files: {r['read_s']:.1f} s")
    for d, o in r["ours"].items():
        print(f"ours {d}: load {o['load_s']:.1f} s ({o['load_s'] / r['read_s']:.1f}x the read), "
              f"peak RSS after load {o['rss_peak_gib']:.2f} GiB, at the end {o['rss_peak_gib_end']:.2f} GiB")
    for p in r["phases"]:
        t = p["torch_ready"]
        print(f"torch {p['torch']}: load {t['load_s']:.1f} s, peak RSS {p['torch_rss_peak_gib']:.2f} GiB")


if __name__ == "__main__":
    main()
