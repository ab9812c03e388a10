//! Save/load and to_bytes/from_bytes round trips, NumPy interoperability and corrupt-file
//! handling (crash safety is in `crash.rs`).

mod common;

use std::path::Path;
use std::process::Command;

use common::{TempDir, clustered_index, config, small_index, snapshot, with_tombstones};
use serde_json::{Value, json};
use vector_index::npy::{self, NpyError};
use vector_index::synthetic::Rng;
use vector_index::{DataFile, Error, Index, LoadError, Problem, Strategy};

/// An index whose stored form exercises everything: a graph grown by a bulk insert and single
/// inserts, tombstones inside it (from removals and a replacement), unicode ids and nested
/// metadata: so the round trip below is a save/load after inserts and deletes.
fn awkward_index() -> Index {
    let mut index = with_tombstones(clustered_index(600, 24, Strategy::Hnsw, 11), 600, 7);
    let v = index.get("item-1").unwrap().vector.to_vec();
    index
        .add("ключ 🔑 with spaces", &v, json!({"nested": {"list": [1, 2.5, "three"]}, "caption": "a \"quoted\" one"}))
        .unwrap();
    index.add("item-2", &v, json!("replaced")).unwrap();
    index.add("delta-dead", &v, Value::Null).unwrap();
    index.remove("delta-dead").unwrap();
    index
}

fn same_searches(a: &Index, b: &Index) {
    for id in ["item-1", "item-3", "item-598"] {
        let q = a.get(id).unwrap().vector.to_vec();
        for strategy in [Strategy::Exact, Strategy::Hnsw] {
            assert_eq!(a.search_with(&q, 10, strategy, None).unwrap(), b.search_with(&q, 10, strategy, None).unwrap());
        }
    }
}

#[test]
fn directory_and_buffer_round_trips_keep_everything_including_the_graph() {
    let index = awkward_index();
    let dir = TempDir::new("roundtrip");
    index.save(&dir.0).unwrap();
    let loaded = Index::load(&dir.0).unwrap();
    assert_eq!(snapshot(&loaded), snapshot(&index));
    assert_eq!(loaded.config(), index.config());
    assert_eq!(loaded.created_at(), index.created_at());
    assert!(loaded.has_graph());
    same_searches(&index, &loaded);
    let from_bytes = Index::from_bytes(&index.to_bytes()).unwrap();
    assert_eq!(snapshot(&from_bytes), snapshot(&index));
    same_searches(&index, &from_bytes);
    // Saving again over the same directory (and over a smaller, graph-less index) works.
    let mut small = Index::new(config(24, Strategy::Exact)).unwrap();
    small.add("only", &[1.0; 24], json!(1)).unwrap();
    small.save(&dir.0).unwrap();
    assert!(!dir.join("hnsw.bin").exists(), "a data file the new index does not use is removed");
    assert_eq!(snapshot(&Index::load(&dir.0).unwrap()), snapshot(&small));
    let names: Vec<_> =
        std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names.len(), 3, "no temporary files left behind: {names:?}");
}

#[test]
fn save_new_writes_a_directory_that_loads_and_refuses_an_existing_one() {
    let index = awkward_index();
    let dir = TempDir::new("save-new");
    let fresh = dir.join("gen");
    index.save_new(&fresh).unwrap();
    let loaded = Index::load(&fresh).unwrap();
    assert_eq!(snapshot(&loaded), snapshot(&index));
    same_searches(&index, &loaded);
    assert_eq!(snapshot(&Index::open(&fresh).unwrap()), snapshot(&index));
    let mut names: Vec<_> =
        std::fs::read_dir(&fresh).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["codes.bin", "embeddings.npy", "hnsw.bin", "ids", "index.json"], "no staging names");
    // An existing directory is refused, untouched: it may hold a committed index.
    let err = index.save_new(&fresh).unwrap_err();
    assert!(matches!(&err, Error::Save { path, .. } if *path == fresh), "{err}");
    assert_eq!(snapshot(&Index::load(&fresh).unwrap()), snapshot(&index));
}

#[test]
fn empty_index_round_trips() {
    let index = Index::new(config(8, Strategy::Auto)).unwrap();
    let back = Index::from_bytes(&index.to_bytes()).unwrap();
    assert!(back.is_empty());
    assert_eq!(back.embedding_dim(), 8);
}

fn python_with_numpy() -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python).args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

/// NumPy reads what we write (also memory-mapped) and we read what NumPy writes.
#[test]
fn numpy_interoperability() {
    let Some(python) = python_with_numpy() else {
        // CI sets VECTOR_INDEX_REQUIRE_NUMPY=1 so a missing numpy fails instead of skipping.
        assert!(std::env::var_os("VECTOR_INDEX_REQUIRE_NUMPY").is_none(), "numpy is required but not importable");
        eprintln!("SKIPPED: numpy is not installed (set PYTHON to an interpreter that has it)");
        return;
    };
    let index = awkward_index();
    let dir = TempDir::new("numpy");
    index.save(&dir.0).unwrap();
    let script = r#"
import hashlib, json, sys
import numpy as np
d = sys.argv[1]
meta = json.load(open(f"{d}/index.json"))
for name, entry in meta["files"].items():
    assert hashlib.sha256(open(f"{d}/{name}", "rb").read()).hexdigest() == entry["sha256"], name
m = np.load(f"{d}/embeddings.npy", mmap_mode="r")
assert m.dtype == np.float32 and m.flags.c_contiguous and m.shape == (meta["count"], meta["embedding_dim"]), m
assert m.offset % 64 == 0
ids = open(f"{d}/ids", encoding="utf-8").read().split("\n")[:-1]
assert ids == [item["id"] for item in meta["items"]]
assert abs(np.linalg.norm(m, axis=1) - 1).max() < 1e-5
print(repr(float(m[ids.index("item-3")] @ m[ids.index("item-5")])))
rng = np.random.default_rng(0)
a = rng.standard_normal((7, 5)).astype(np.float32)
np.save(f"{d}/v1.npy", a)
with open(f"{d}/v2.npy", "wb") as f:
    np.lib.format.write_array(f, a, version=(2, 0))
a.tofile(f"{d}/raw.f32")
"#;
    let out = Command::new(&python).args(["-c", script]).arg(&dir.0).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let numpy_dot: f64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    let (a, b) = (index.get("item-3").unwrap().vector, index.get("item-5").unwrap().vector);
    assert!((vector_index::dot(a, b) as f64 - numpy_dot).abs() < 1e-5);
    let raw: Vec<f32> = std::fs::read(dir.join("raw.f32"))
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    for name in ["v1.npy", "v2.npy"] {
        let m = npy::read_f32_matrix(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        assert_eq!((m.rows, m.cols, &m.data), (7, 5, &raw), "{name}");
    }
}

/// A saved directory to corrupt, and a helper that checks which typed error a load gives.
struct Corrupt {
    dir: TempDir,
}

impl Corrupt {
    fn new() -> Self {
        let dir = TempDir::new("corrupt");
        awkward_index().save(&dir.0).unwrap();
        Self { dir }
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.join(name), bytes).unwrap();
    }

    /// Rewrites `name` and fixes its size and sha256 in `index.json`, so the content checks
    /// (not the checksum) must catch the damage.
    fn write_resealed(&self, name: &str, bytes: &[u8]) {
        self.write(name, bytes);
        let mut meta: Value = serde_json::from_slice(&self.read("index.json")).unwrap();
        let sha = sha256_hex(bytes);
        meta["files"][name] = json!({"bytes": bytes.len(), "sha256": sha});
        self.write("index.json", &serde_json::to_vec(&meta).unwrap());
    }

    fn edit_json(&self, edit: impl FnOnce(&mut Value)) {
        let mut meta: Value = serde_json::from_slice(&self.read("index.json")).unwrap();
        edit(&mut meta);
        self.write("index.json", &serde_json::to_vec(&meta).unwrap());
    }

    fn load_err(&self) -> LoadError {
        match Index::load(&self.dir.0) {
            Err(Error::Load(e)) => e,
            Err(other) => panic!("expected a load error, got {other}"),
            Ok(_) => panic!("a corrupt index loaded"),
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    // The test recomputes checksums through a save/round trip of its own: sha2 is a dev path.
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn corrupt_files_give_typed_errors_that_name_the_file() {
    let c = Corrupt::new();
    let npy_bytes = c.read("embeddings.npy");
    c.write("embeddings.npy", &npy_bytes[..npy_bytes.len() - 10]);
    let e = c.load_err();
    assert!(matches!((e.file, &e.problem), (DataFile::Embeddings, Problem::Invalid(_))), "{e}"); // size check first

    let c = Corrupt::new();
    c.write_resealed("embeddings.npy", &npy_bytes[..npy_bytes.len() - 10]);
    let e = c.load_err();
    assert!(
        matches!((e.file, &e.problem), (DataFile::Embeddings, Problem::Npy(NpyError::LengthMismatch { .. }))),
        "{e}"
    );

    let c = Corrupt::new();
    let mut bad_header = npy_bytes.clone();
    bad_header[0] = b'X';
    c.write("embeddings.npy", &bad_header);
    assert!(matches!(
        c.load_err(),
        LoadError { file: DataFile::Embeddings, problem: Problem::ChecksumMismatch { .. } }
    ));
    c.write_resealed("embeddings.npy", &bad_header);
    assert!(matches!(
        c.load_err(),
        LoadError { file: DataFile::Embeddings, problem: Problem::Npy(NpyError::BadMagic) }
    ));
    let text = String::from_utf8_lossy(&npy_bytes[10..80]).replace("<f4", "<f8");
    let mut bad_dtype = npy_bytes.clone();
    bad_dtype[10..80].copy_from_slice(text.as_bytes());
    c.write_resealed("embeddings.npy", &bad_dtype);
    assert!(matches!(c.load_err().problem, Problem::Npy(NpyError::UnsupportedDtype(_))));

    let c = Corrupt::new();
    let count = c.awkward_count();
    let other_dim = npy::write_f32_matrix(count, 23, &vec![0.5; count * 23]);
    c.write_resealed("embeddings.npy", &other_dim);
    assert!(matches!(
        c.load_err(),
        LoadError { file: DataFile::Embeddings, problem: Problem::DimensionMismatch { expected: 24, found: 23 } }
    ));

    let c = Corrupt::new();
    c.edit_json(|m| m["embedding_dim"] = json!(25));
    assert!(matches!(
        c.load_err(),
        LoadError { file: DataFile::Embeddings, problem: Problem::DimensionMismatch { expected: 25, found: 24 } }
    ));

    let c = Corrupt::new();
    let mut ids = c.read("ids");
    ids[0] ^= 1;
    c.write("ids", &ids);
    assert!(matches!(c.load_err(), LoadError { file: DataFile::Ids, problem: Problem::ChecksumMismatch { .. } }));
    c.write_resealed("ids", &ids);
    assert!(matches!(c.load_err(), LoadError { file: DataFile::Ids, problem: Problem::Invalid(_) }));

    let c = Corrupt::new();
    let mut graph = c.read("hnsw.bin");
    let last = graph.len() - 1;
    graph[last] ^= 0xff;
    c.write_resealed("hnsw.bin", &graph);
    assert!(matches!(c.load_err(), LoadError { file: DataFile::Graph, problem: Problem::Invalid(_) }));
    std::fs::remove_file(c.dir.join("hnsw.bin")).unwrap();
    assert!(matches!(c.load_err(), LoadError { file: DataFile::Graph, problem: Problem::Missing }));

    let c = Corrupt::new();
    c.write("index.json", b"{\"schema_version\": 1, \"count\": [garbage");
    assert!(matches!(c.load_err(), LoadError { file: DataFile::IndexJson, problem: Problem::Json(_) }));
    c.write("index.json", b"\x00\xff not json at all");
    assert!(matches!(c.load_err(), LoadError { file: DataFile::IndexJson, problem: Problem::Json(_) }));

    let c = Corrupt::new();
    c.edit_json(|m| m["schema_version"] = json!(99));
    assert!(matches!(c.load_err().problem, Problem::UnsupportedSchema { found: 99, supported: 2 }));

    let c = Corrupt::new();
    c.edit_json(|m| m["count"] = json!(3));
    assert!(matches!(c.load_err(), LoadError { file: DataFile::IndexJson, problem: Problem::CountMismatch { .. } }));

    let c = Corrupt::new();
    c.edit_json(|m| m["embedding_dim"] = json!(1u64 << 40));
    assert!(matches!(c.load_err(), LoadError { file: DataFile::IndexJson, problem: Problem::Invalid(_) }));

    let c = Corrupt::new();
    std::fs::remove_file(c.dir.join("index.json")).unwrap();
    assert!(matches!(c.load_err(), LoadError { file: DataFile::IndexJson, problem: Problem::Missing }));
}

impl Corrupt {
    fn awkward_count(&self) -> usize {
        let meta: Value = serde_json::from_slice(&self.read("index.json")).unwrap();
        meta["count"].as_u64().unwrap() as usize
    }
}

/// A small deterministic fuzzer for the buffer loader (the cargo-fuzz target does the same
/// with coverage guidance): random bit flips, truncations, splices and length-field edits of a
/// valid buffer must give an error or an index, never a panic.
#[test]
fn mutated_buffers_never_panic() {
    let mut small = small_index(12, "f", Strategy::Hnsw);
    small.remove("f-3").unwrap();
    let valid = small.to_bytes();
    let mut rng = Rng::new(1234);
    for round in 0..3000 {
        let mut bytes = valid.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(5) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes.truncate(at),
                2 => bytes[at] = [0, 0xff, b'9', b'"'][rng.below(4)],
                3 => {
                    let end = (at + 8).min(bytes.len());
                    bytes[at..end].fill(0xff);
                }
                _ => bytes.insert(at, rng.next_u64() as u8),
            }
            if bytes.is_empty() {
                break;
            }
        }
        let outcome = std::panic::catch_unwind(|| Index::from_bytes(&bytes).map(|i| i.len()));
        assert!(outcome.is_ok(), "round {round} panicked");
    }
}

/// An index written by the schema-1 code (instant-distance graph, tombstones in its snapshot, a
/// delta; see `tests/fixtures/README.md`) loads: same items, a new graph built from the stored
/// vectors, and it saves as the current schema.
#[test]
fn a_schema_1_index_loads_with_a_rebuilt_graph() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1_index");
    let json: Value = serde_json::from_slice(&std::fs::read(fixture.join("index.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    let index = Index::load(&fixture).unwrap();
    assert_eq!(index.len(), 275);
    assert!(index.has_graph());
    assert_eq!(index.embedding_model(), "fixture-model");
    assert_eq!(index.created_at(), "2026-12-03T00:00:00Z");
    for i in 0..300 {
        let id = format!("item-{i}");
        if i < 250 && i % 10 == 0 {
            assert!(!index.contains(&id), "{id} was removed before the save");
            continue;
        }
        let item = index.get(&id).unwrap();
        assert_eq!(item.metadata, &json!({"n": i, "even": i % 2 == 0}));
        assert_eq!(index.search_with(item.vector, 1, Strategy::Hnsw, None).unwrap()[0].0, id);
    }
    let dir = TempDir::new("schema1");
    index.save(&dir.0).unwrap();
    let json: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], vector_index::SCHEMA_VERSION);
    let again = Index::load(&dir.0).unwrap();
    assert_eq!(snapshot(&again), snapshot(&index));
    let q = index.get("item-5").unwrap().vector.to_vec();
    assert_eq!(again.search(&q, 10).unwrap(), index.search(&q, 10).unwrap());
}
