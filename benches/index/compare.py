"""Python side of the index benchmark: faiss (IndexFlatIP, IndexHNSWFlat) and hnswlib on the
data set `bench.rs` wrote, then one table comparing them with the Rust index.

Usage: python compare.py OUT_DIR [OUT_DIR ...]   (one directory per (N, d) run; see run.sh)

Fairness: every library searches single-threaded, queries issued as one batch (faiss, hnswlib)
or one at a time (Rust; the per-query API). Graphs use the same shape: M=32 (64 links on layer
0, instant-distance's fixed value), efConstruction as in rust.json, inner product on unit
vectors. Builds use every core for all three. Recall@10 is against exact search (faiss Flat for
the Python libraries, the Rust exact strategy for the Rust index).
"""
import json
import sys
import time

import faiss
import hnswlib
import numpy as np

K = 10
TARGET = 0.98


def recall(truth, got):
    return float(np.mean([len(set(t) & set(g)) / K for t, g in zip(truth, got)]))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run_python(base, queries, ef_list, ef_construction, build_threads):
    n, d = base.shape
    nq = len(queries)
    rows = {}
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexFlatIP(d)
    flat.add(base)
    (_, truth), t = timed(lambda: flat.search(queries, K))
    _, t1 = timed(lambda: [flat.search(queries[i : i + 1], K) for i in range(min(nq, 200))])
    rows["faiss Flat (batch)"] = {"build_s": 0.0, "curve": [{"ef": None, "qps": nq / t, "recall": 1.0}]}
    rows["faiss Flat (1 query/call)"] = {"build_s": 0.0, "curve": [{"ef": None, "qps": min(nq, 200) / t1, "recall": 1.0}]}

    faiss.omp_set_num_threads(build_threads)
    hnsw = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    _, build = timed(lambda: hnsw.add(base))
    faiss.omp_set_num_threads(1)
    curve = []
    for ef in ef_list:
        hnsw.hnsw.efSearch = max(ef, K)
        (_, ids), t = timed(lambda: hnsw.search(queries, K))
        curve.append({"ef": ef, "qps": nq / t, "recall": recall(truth, ids)})
    rows["faiss HNSWFlat"] = {"build_s": build, "curve": curve}

    index = hnswlib.Index(space="ip", dim=d)
    index.init_index(max_elements=n, ef_construction=ef_construction, M=32, random_seed=1)
    _, build = timed(lambda: index.add_items(base, np.arange(n), num_threads=build_threads))
    curve = []
    for ef in ef_list:
        index.set_ef(max(ef, K))
        (ids, _), t = timed(lambda: index.knn_query(queries, k=K, num_threads=1))
        curve.append({"ef": ef, "qps": nq / t, "recall": recall(truth, ids)})
    rows["hnswlib"] = {"build_s": build, "curve": curve}
    return rows


def at_target(curve):
    """Fastest point of a recall/QPS curve with recall >= TARGET (None if never reached)."""
    ok = [p for p in curve if p["recall"] >= TARGET]
    return max(ok, key=lambda p: p["qps"]) if ok else None


def main():
    import os

    build_threads = os.cpu_count()
    lines = []
    for out in sys.argv[1:]:
        rust = json.load(open(f"{out}/rust.json"))
        base = np.load(f"{out}/base.npy")
        queries = np.load(f"{out}/queries.npy")
        ef_list = [p["ef"] for p in rust["hnsw"]["curve"]]
        rows = run_python(base, queries, ef_list, rust["ef_construction"], build_threads)
        rows = {
            "vector-index exact": {"build_s": rust["exact"]["build_s"], "curve": [{"ef": None, "qps": rust["exact"]["qps"], "recall": 1.0}]},
            "vector-index HNSW": rust["hnsw"],
            **rows,
        }
        lines.append((rust, rows))
    print_table(lines)


def print_table(lines):
    print(f"\nrecall@{K} target {TARGET}; QPS single-threaded; 'x ours' = that library's QPS / ours (lower is better for us)")
    header = f"{'N':>7} {'d':>5} | {'index':<26} | {'build s':>8} | {'ef':>4} | {'QPS':>9} | {'recall@10':>9} | {'x ours':>7}"
    print(header)
    print("-" * len(header))
    for rust, rows in lines:
        ours_hnsw = at_target(rows["vector-index HNSW"]["curve"])
        ours_exact = rows["vector-index exact"]["curve"][0]
        for name, row in rows.items():
            point = row["curve"][0] if len(row["curve"]) == 1 else at_target(row["curve"]) or max(row["curve"], key=lambda p: p["recall"])
            ref = ours_exact if name.startswith("faiss Flat") or "exact" in name else ours_hnsw
            ratio = f"{point['qps'] / ref['qps']:.2f}" if ref else "n/a"
            ef = "" if point["ef"] is None else str(point["ef"])
            print(f"{rust['n']:>7} {rust['dim']:>5} | {name:<26} | {row['build_s']:>8.2f} | {ef:>4} | {point['qps']:>9.1f} | {point['recall']:>9.4f} | {ratio:>7}")
        print("-" * len(header))
    print("HNSW rows: the fastest ef_search reaching the recall target (or the best recall if none does).")


if __name__ == "__main__":
    main()
