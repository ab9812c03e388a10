//! `Index::open` (vectors and codes memory-mapped) against `Index::load` (everything read and
//! checked): same answers, the deferred checks in `verify`, and typed errors, never a fault,
//! for files that are short, long or corrupt.

mod common;

use std::io;
use std::path::Path;

use common::{TempDir, clustered_index, snapshot, with_tombstones};
use serde_json::{Value, json};
use vector_index::fs::{Fs, Mapping, StdFs};
use vector_index::{DataFile, Error, Index, LoadError, Problem, Strategy};

const DIM: usize = 48;

/// Every search the index offers, on both paths, plus a filtered one, for a few queries.
fn answers(index: &Index) -> Vec<Vec<(String, f32)>> {
    let queries = vector_index::synthetic::clustered(12, DIM, 24, 1.0, 5, 77);
    let even = |_: &str, m: &Value| m["even"] == json!(true);
    let mut out = Vec::new();
    for q in queries.chunks_exact(DIM) {
        for strategy in [Strategy::Hnsw, Strategy::Exact] {
            out.push(index.search_with(q, 10, strategy, None).unwrap());
            out.push(index.search_with(q, 10, strategy, Some(&even)).unwrap());
        }
    }
    out.push(index.search_batch(queries.chunks_exact(DIM), 5).unwrap().concat());
    out
}

fn saved(tombstones: bool) -> TempDir {
    let mut index = clustered_index(1200, DIM, Strategy::Hnsw, 9);
    if tombstones {
        index = with_tombstones(index, 1200, 9);
    }
    let dir = TempDir::new(if tombstones { "open-dead" } else { "open" });
    index.save(&dir.0).unwrap();
    dir
}

#[test]
fn an_opened_index_answers_exactly_like_a_loaded_one() {
    for tombstones in [false, true] {
        let dir = saved(tombstones);
        let (loaded, opened) = (Index::load(&dir.0).unwrap(), Index::open(&dir.0).unwrap());
        // Removed rows travel in hnsw.bin and are kept beside the mapped live rows, so an index
        // with tombstones is mapped too.
        assert_eq!(opened.is_mapped(), cfg!(target_endian = "little"));
        assert!(!loaded.is_mapped());
        assert_eq!(snapshot(&opened), snapshot(&loaded));
        assert_eq!(opened.config(), loaded.config());
        assert_eq!(answers(&opened), answers(&loaded));
        opened.verify().unwrap();
        loaded.verify().unwrap();
        // Growing an opened index copies it into memory and goes on like a loaded one.
        let (mut opened, mut loaded) = (opened, loaded);
        let v = loaded.get("item-1").unwrap().vector.to_vec();
        for index in [&mut opened, &mut loaded] {
            index.add("new", &v, json!({"even": true})).unwrap();
            index.remove("item-2").unwrap();
        }
        assert!(!opened.is_mapped());
        assert_eq!(snapshot(&opened), snapshot(&loaded));
        assert_eq!(answers(&opened), answers(&loaded));
        // Saving over the directory it was opened from is safe (new files are renamed in).
        opened.save(&dir.0).unwrap();
        assert_eq!(snapshot(&Index::open(&dir.0).unwrap()), snapshot(&loaded));
    }
}

#[test]
fn a_directory_without_codes_bin_opens_and_a_save_adds_it() {
    let dir = saved(false);
    let want = answers(&Index::load(&dir.0).unwrap());
    std::fs::remove_file(dir.join("codes.bin")).unwrap();
    edit_json(&dir, |m| {
        m["files"].as_object_mut().unwrap().remove("codes.bin");
    });
    let opened = Index::open(&dir.0).unwrap();
    assert_eq!(answers(&opened), want);
    assert_eq!(answers(&Index::load(&dir.0).unwrap()), want);
    opened.verify().unwrap();
    opened.save(&dir.0).unwrap();
    assert!(dir.join("codes.bin").exists());
    assert_eq!(answers(&Index::open(&dir.0).unwrap()), want);
}

fn edit_json(dir: &TempDir, edit: impl FnOnce(&mut Value)) {
    let mut meta: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    edit(&mut meta);
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
}

/// Rewrites `name` and fixes its size and sha256 in `index.json`.
fn write_resealed(dir: &TempDir, name: &str, bytes: &[u8]) {
    use sha2::Digest;
    std::fs::write(dir.join(name), bytes).unwrap();
    let sha: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    edit_json(dir, |m| m["files"][name] = json!({"bytes": bytes.len(), "sha256": sha}));
}

fn open_err(dir: &TempDir) -> LoadError {
    match Index::open(&dir.0) {
        Err(Error::Load(e)) => e,
        Err(other) => panic!("expected a load error, got {other}"),
        Ok(_) => panic!("a corrupt index opened"),
    }
}

fn verify_err(dir: &TempDir) -> LoadError {
    match Index::open(&dir.0).unwrap().verify() {
        Err(Error::Load(e)) => e,
        Err(other) => panic!("expected a load error, got {other}"),
        Ok(()) => panic!("verify passed a corrupt index"),
    }
}

#[test]
fn short_long_and_corrupt_files_give_typed_errors_at_open_or_verify() {
    for (name, file) in [("embeddings.npy", DataFile::Embeddings), ("codes.bin", DataFile::Codes)] {
        let dir = saved(false);
        let bytes = std::fs::read(dir.join(name)).unwrap();
        // Shorter or longer than index.json says: refused before it is mapped.
        for len in [0, 10, bytes.len() - 1] {
            std::fs::write(dir.join(name), &bytes[..len]).unwrap();
            let e = open_err(&dir);
            assert!(matches!((e.file, &e.problem), (f, Problem::Invalid(_)) if f == file), "{name} at {len}: {e}");
        }
        std::fs::write(dir.join(name), [&bytes[..], b"extra"].concat()).unwrap();
        assert!(matches!(open_err(&dir).problem, Problem::Invalid(_)));
        // Short but resealed (index.json agrees with it): the header or shape check refuses it.
        write_resealed(&dir, name, &bytes[..bytes.len() - 64]);
        let e = open_err(&dir);
        assert_eq!(e.file, file, "{e}");
        std::fs::remove_file(dir.join(name)).unwrap();
        assert!(matches!(open_err(&dir), LoadError { problem: Problem::Missing, .. }));
        // A changed value past the header: open cannot see it without reading everything;
        // verify finds it by checksum; load refuses it outright.
        // (In the vectors a NaN, which load's and verify's content checks refuse; in the codes,
        // a bit of a scale, which verify finds differs from quantising the row.)
        let mut flipped = bytes.clone();
        let at = bytes.len() - 100; // 4-byte aligned in both files' f32 tails
        match file {
            DataFile::Embeddings => flipped[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes()),
            _ => flipped[at] ^= 0x40,
        }
        std::fs::write(dir.join(name), &flipped).unwrap();
        write_resealed(&dir, name, &bytes); // restore the manifest entry to the good file
        std::fs::write(dir.join(name), &flipped).unwrap();
        let e = verify_err(&dir);
        assert!(matches!((e.file, &e.problem), (f, Problem::ChecksumMismatch { .. }) if f == file), "{e}");
        assert!(matches!(
            Index::load(&dir.0),
            Err(Error::Load(LoadError { problem: Problem::ChecksumMismatch { .. }, .. }))
        ));
        // The same flip with the checksum resealed: verify's content checks find it.
        write_resealed(&dir, name, &flipped);
        let e = verify_err(&dir);
        assert!(matches!((e.file, &e.problem), (f, Problem::Invalid(_)) if f == file), "{name}: {e}");
    }
}

/// Stands for a file that shrinks between the size check and the map: the mapping it returns
/// is shorter than the file, so viewing it per `index.json` would read past its end.
struct ShrinkingFs;

impl Fs for ShrinkingFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        StdFs.create_dir_all(dir)
    }
    fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        StdFs.write_synced(path, bytes)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFs.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        StdFs.sync_dir(dir)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        StdFs.remove_file(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        StdFs.file_len(path)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        StdFs.read(path)
    }
    fn map(&self, path: &Path) -> io::Result<Option<Mapping>> {
        let mut bytes = StdFs.read(path)?;
        bytes.truncate(bytes.len() / 2);
        Ok(Some(Mapping::new(bytes)))
    }
}

#[test]
fn a_mapping_shorter_than_the_file_is_refused() {
    let dir = saved(false);
    let e = match Index::open_with(&dir.0, &ShrinkingFs) {
        Err(Error::Load(e)) => e,
        other => panic!("expected a load error, got {:?}", other.map(|i| i.len())),
    };
    assert!(matches!((e.file, &e.problem), (DataFile::Embeddings, Problem::Invalid(_))), "{e}");
}

#[test]
fn the_graph_is_checked_link_by_link_at_open_and_by_checksum_in_verify() {
    let dir = saved(false);
    let good = std::fs::read(dir.join("hnsw.bin")).unwrap();
    // hnsw.bin: a 32-byte header (no removed rows here), then M, node count, entry, one level
    // byte per node, then 64 layer-0 slots per node.
    let slot = |node: usize, i: usize| 32 + 4 + 8 + 8 + 1200 + 4 * (node * 64 + i);
    let mut other_node = good.clone();
    other_node[slot(5, 0)..slot(5, 0) + 4].copy_from_slice(&7u32.to_le_bytes());
    std::fs::write(dir.join("hnsw.bin"), &other_node).unwrap();
    let e = verify_err(&dir);
    assert!(matches!((e.file, &e.problem), (DataFile::Graph, Problem::ChecksumMismatch { .. })), "{e}");
    let mut no_node = good.clone();
    no_node[slot(5, 0)..slot(5, 0) + 4].copy_from_slice(&5000u32.to_le_bytes());
    std::fs::write(dir.join("hnsw.bin"), &no_node).unwrap();
    let e = open_err(&dir);
    assert!(matches!((e.file, &e.problem), (DataFile::Graph, Problem::Invalid(_))), "{e}");
    std::fs::write(dir.join("hnsw.bin"), &good[..good.len() - 4]).unwrap();
    assert!(matches!(open_err(&dir), LoadError { file: DataFile::Graph, problem: Problem::Invalid(_) }));
}

#[test]
fn verify_still_checks_what_open_skipped_after_an_add_copied_it_into_memory() {
    let dir = saved(false);
    let bytes = std::fs::read(dir.join("embeddings.npy")).unwrap();
    let mut nan = bytes.clone();
    let at = bytes.len() - 100;
    nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    write_resealed(&dir, "embeddings.npy", &nan);
    let mut index = Index::open(&dir.0).unwrap();
    index.add("new", &[1.0; DIM], Value::Null).unwrap();
    assert!(!index.is_mapped());
    let e = match index.verify() {
        Err(Error::Load(e)) => e,
        other => panic!("verify passed a NaN: {other:?}"),
    };
    assert!(matches!((e.file, &e.problem), (DataFile::Embeddings, Problem::Invalid(_))), "{e}");
}
