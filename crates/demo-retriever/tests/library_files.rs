//! One library format everywhere: a saved directory, its files in memory (what JavaScript
//! fetches from a directory URL), the packed single file, and the caller-embeds build and query
//! of wasm all give the library [`DemoRetriever::load`] gives, with the same answers.
//!
//! The embedder is a stand-in that hashes its whole input (text, images, instruction), so a
//! vector changes whenever any input byte does, and costs nothing.

use std::path::{Path, PathBuf};

use demo_retriever::pack::{pack, unpack};
use demo_retriever::{
    Demo, DemoRetriever, EmbedBatch, LibraryFiles, Query, RetrieverError, RetrieverSettings, files_needed, read_library,
};
use qwen3_vl_embedder::{EmbedError, EmbedInput};
use reference_fixtures::fixtures_dir;
use sha2::{Digest, Sha256};

const DIM: usize = 16;

/// A unit vector from the sha256 of every input field.
struct Hashing;

impl EmbedBatch for Hashing {
    fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(inputs
            .iter()
            .map(|i| {
                let mut h = Sha256::new();
                h.update(format!("{:?}|{:?}", i.text, i.instruction));
                for image in &i.images {
                    h.update(image);
                }
                let seed = h.finalize();
                let v: Vec<f32> = (0..dim).map(|k| seed[k % 32] as f32 - 127.5 + k as f32).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

fn sample_demos() -> Vec<Demo> {
    let lib = read_library(&fixtures_dir().join("demo-library/episodes")).unwrap();
    assert!(lib.errors.is_empty(), "{:?}", lib.errors);
    lib.demos
}

fn built() -> DemoRetriever {
    let mut r = DemoRetriever::new(RetrieverSettings::new("hashing", DIM)).unwrap();
    r.add_demos(sample_demos()).unwrap();
    r.build_index(&Hashing, 2, &mut |_| {}).unwrap();
    r
}

fn queries() -> Vec<Query> {
    vec![
        Query::text("Turn off Night Shift").top_k(5),
        Query::text("Star this repo").domain("github.com").top_k(3),
        Query::text("Save the file").app("notepad").top_k(2),
    ]
}

/// Ids and scores of every query.
fn answers(r: &DemoRetriever) -> Vec<Vec<(String, f32)>> {
    queries()
        .iter()
        .map(|q| r.retrieve(&Hashing, q, None).unwrap().into_iter().map(|h| (h.demo.demo_id, h.score)).collect())
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("demo-retriever-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// What a loader of a directory URL does: fetch what `files_needed` lists, leaving out what
/// does not exist, until it lists nothing.
fn fetch_like_a_url(dir: &Path) -> (LibraryFiles, usize) {
    let mut files = LibraryFiles::new();
    let mut rounds = 0;
    loop {
        let needed = files_needed(&files).unwrap();
        if needed.is_empty() {
            return (files, rounds);
        }
        rounds += 1;
        assert!(rounds <= 3, "still fetching after 3 rounds: {needed:?}");
        for name in needed {
            if let Ok(bytes) = std::fs::read(dir.join(&name)) {
                files.insert(&name, bytes).unwrap();
            }
        }
    }
}

#[test]
fn a_saved_directory_fetched_file_by_file_loads_as_the_directory_does() {
    let dir = temp_dir("url");
    let original = built();
    original.save(&dir).unwrap();
    let (files, rounds) = fetch_like_a_url(&dir);
    assert_eq!(rounds, 3, "manifest, generation, demos");
    let from_files = DemoRetriever::from_files(&files).unwrap();
    let from_dir = DemoRetriever::load(&dir).unwrap();
    assert_eq!(from_files.settings(), from_dir.settings());
    assert!(from_files.demos().eq(from_dir.demos()));
    assert_eq!(answers(&from_files), answers(&original));
    assert_eq!(answers(&from_dir), answers(&original));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn to_files_and_the_packed_file_round_trip_and_unpack_to_a_loadable_directory() {
    let original = built();
    let files = original.to_files().unwrap();
    assert!(files.contains("manifest.json") && files.contains("gen-1/index.json"));
    let packed = pack(files.clone());
    assert_eq!(unpack(&packed).unwrap(), files);
    let back = DemoRetriever::from_files(&unpack(&packed).unwrap()).unwrap();
    assert_eq!(answers(&back), answers(&original));
    // The files are a directory's: written out by name, the directory loads.
    let dir = temp_dir("written");
    for (name, bytes) in files.into_map() {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    assert_eq!(answers(&DemoRetriever::load(&dir).unwrap()), answers(&original));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_or_partial_files_are_typed_errors() {
    let files = built().to_files().unwrap();
    let err = DemoRetriever::from_files(&LibraryFiles::new()).map(|_| ()).unwrap_err();
    assert!(matches!(err, RetrieverError::BadIndexDir { .. }), "{err}");
    let mut partial = LibraryFiles::new();
    for name in files.names().into_iter().filter(|n| !n.starts_with("demos/")) {
        partial.insert(&name, files.get(&name).unwrap()).unwrap();
    }
    assert!(DemoRetriever::from_files(&partial).is_err());
    let mut altered = files.clone();
    let demo = files.names().into_iter().find(|n| n.starts_with("demos/")).unwrap();
    altered.insert(&demo, b"{}".to_vec()).unwrap();
    let err = DemoRetriever::from_files(&altered).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("does not match the index"), "{err}");
    assert!(matches!(unpack(b"QVLLIB01 short"), Err(RetrieverError::BadPack(_))));
}

#[test]
fn the_caller_embeds_build_with_screenshot_bytes_equals_the_native_build() {
    let native = built();
    // wasm's demos: episodes without files, screenshots as bytes.
    let mut wasm = DemoRetriever::new(RetrieverSettings::new("hashing", DIM)).unwrap();
    for demo in sample_demos() {
        let bytes = demo.screenshot_path.as_ref().map(|p| std::fs::read(p).unwrap());
        wasm.add_demo_with_screenshot(Demo::from_episode_value(demo.episode.clone()).unwrap(), bytes);
    }
    let todo = wasm.inputs_to_embed().unwrap();
    assert_eq!(todo.len(), 5);
    let inputs: Vec<EmbedInput> = todo.iter().map(|t| t.input.clone()).collect();
    for (item, v) in todo.iter().zip(Hashing.embed_inputs(&inputs, DIM).unwrap()) {
        wasm.add_embedding(item, v).unwrap();
    }
    let report = wasm.build_from_cache().unwrap();
    assert_eq!((report.embedded, report.reused), (0, 5));
    for demo in native.demos() {
        assert_eq!(wasm.embedding(&demo.demo_id), native.embedding(&demo.demo_id), "{}", demo.demo_id);
    }
    for q in queries() {
        let vector = Hashing.embed_inputs(&[wasm.query_input(&q).unwrap()], DIM).unwrap().remove(0);
        let got = wasm.retrieve_by_vector(vector, &q).unwrap();
        let want = native.retrieve(&Hashing, &q, None).unwrap();
        let key = |r: &demo_retriever::RetrievalResult| (r.rank, r.demo.demo_id.clone(), r.score, r.embedding_score);
        assert_eq!(got.iter().map(key).collect::<Vec<_>>(), want.iter().map(key).collect::<Vec<_>>());
    }
    // A build that still misses a vector fails and changes nothing.
    let mut missing = DemoRetriever::new(RetrieverSettings::new("hashing", DIM)).unwrap();
    missing.add_demos(sample_demos()).unwrap();
    assert!(missing.build_from_cache().is_err());
    assert_eq!(missing.pending(), 5);
}
