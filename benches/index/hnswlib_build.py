"""hnswlib's build, single inserts and recall@10 on the data `build_speed` writes, for the
numbers next to vector-index's in README.md ("Construction" section):

    DATA_DIR=/tmp/idx-data cargo run --release -p vector-index --example build_speed -- 20000 512 64
    python benches/index/hnswlib_build.py /tmp/idx-data 20000 64

Same graph shape as vector-index (M = 32, ef_construction = 100, inner product on unit
vectors). The bulk build uses every core (`num_threads=-1`), the single inserts one call each.
"""
import sys
import time

import hnswlib
import numpy as np

data_dir, n, ef = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = np.load(f"{data_dir}/base.npy")
queries = np.load(f"{data_dir}/queries.npy")
dim, singles = base.shape[1], base.shape[0] - n

index = hnswlib.Index(space="ip", dim=dim)
index.init_index(max_elements=base.shape[0], ef_construction=100, M=32, random_seed=1)
t = time.perf_counter()
index.add_items(base[:n], np.arange(n), num_threads=-1)
build = time.perf_counter() - t
t = time.perf_counter()
for i in range(n, base.shape[0]):
    index.add_items(base[i : i + 1], np.array([i]), num_threads=1)
inserts = time.perf_counter() - t

truth = np.argsort(-(queries @ base.T), axis=1)[:, :10]
index.set_ef(ef)
t = time.perf_counter()
labels, _ = index.knn_query(queries, k=10, num_threads=1)
search = time.perf_counter() - t
hits = sum(len(set(labels[q]) & set(truth[q])) for q in range(len(queries)))
print(
    f"hnswlib n={n} dim={dim} ef={ef}: build {build:.2f}s, {singles} single adds {inserts:.2f}s "
    f"({1000 * inserts / singles:.2f} ms each), recall@10 {hits / (10 * len(queries)):.4f}, "
    f"{len(queries) / search:.0f} QPS (1 thread)"
)
