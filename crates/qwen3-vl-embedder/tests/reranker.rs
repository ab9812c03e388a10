//! Reranker parity: prompts, token ids and scores against transformers
//! (`tools/reference/make_reranker_fixtures.py`, a tiny random Qwen3-VL with tied embeddings).

use qwen3_vl_embedder::reranker::RERANK_DEFAULT_INSTRUCTION;
use qwen3_vl_embedder::{DeviceChoice, EmbedInput, ModelInput, Reranker, start_device};
use reference_fixtures::fixtures_dir;
use serde::Deserialize;

const TOL: f32 = 1e-5;

#[derive(Deserialize)]
struct Side {
    text: Option<String>,
    images: Vec<String>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    instruction: Option<String>,
    query: Side,
    document: Side,
    input_ids: Vec<u32>,
    score: f32,
}

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

fn input(side: &Side) -> EmbedInput {
    let images = side.images.iter().map(|p| std::fs::read(fixtures_dir().join(p)).unwrap()).collect();
    EmbedInput { text: side.text.clone(), images, instruction: None }
}

/// The reference cases and the tiny reranker on the CPU.
fn load() -> (Cases, Reranker) {
    let dir = fixtures_dir().join("reranker");
    let cases: Cases = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let device = start_device(DeviceChoice::Cpu).unwrap();
    (cases, Reranker::from_dir(&dir.join("tiny-reranker"), &device.device).unwrap())
}

#[test]
fn reranker_scores_equal_transformers() {
    let (cases, reranker) = load();
    let mut worst = 0f32;
    for case in &cases.cases {
        let (q, d) = (input(&case.query), input(&case.document));
        let instruction = case.instruction.as_deref().unwrap_or(RERANK_DEFAULT_INSTRUCTION);
        let mut batch = ModelInput::default();
        reranker.prepare(instruction, &q, &d, &mut batch).unwrap();
        assert_eq!(batch.rows[0], case.input_ids, "{}: token ids", case.name);
        let got = reranker.score(case.instruction.as_deref(), &q, &[d]).unwrap()[0];
        let err = (got - case.score).abs();
        assert!(err <= TOL, "{}: {got} vs {}", case.name, case.score);
        worst = worst.max(err);
    }
    println!("reranker: max |err| {worst:.2e}");
}

#[test]
fn batched_scoring_equals_one_pair_at_a_time() {
    let (cases, reranker) = load();
    // Every document against the first case's query, in one call (right-padded batches).
    let first = &cases.cases[0];
    let docs: Vec<EmbedInput> = cases.cases.iter().map(|c| input(&c.document)).collect();
    let q = input(&first.query);
    let batched = reranker.score(None, &q, &docs).unwrap();
    for (doc, got) in docs.iter().zip(&batched) {
        let single = reranker.score(None, &q, std::slice::from_ref(doc)).unwrap()[0];
        assert!((single - got).abs() <= TOL, "{single} vs {got}");
    }
    assert!((batched[0] - first.score).abs() <= TOL);
}

#[test]
fn an_untied_checkpoint_without_lm_head_is_a_typed_error() {
    let src = fixtures_dir().join("reranker/tiny-reranker");
    let dir = std::env::temp_dir().join(format!("untied-reranker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let config = std::fs::read_to_string(src.join("config.json"))
        .unwrap()
        .replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
    std::fs::write(dir.join("config.json"), config).unwrap();
    let device = start_device(DeviceChoice::Cpu).unwrap();
    let err = Reranker::from_dir(&dir, &device.device).err().unwrap().to_string();
    assert!(err.contains("lm_head.weight"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
