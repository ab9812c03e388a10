//! The model against transformers on the committed reference fixtures, on the CPU backend
//! and on wgpu (lavapipe in CI). Inputs are the reference's own token ids and pixel values,
//! so this isolates the model from preprocessing (the embedder's tests cover that).
//!
//! Tolerances (f32): every intermediate and the full last hidden state within 1e-4, the
//! embedding within 1e-5. Each case runs three times: whole, whole keeping its rows' shared
//! text prefix, and after that prefix (`forward_after_prefix`).

use burn::tensor::{DType, Device};
use qwen3_vl_model::{Checkpoint, ModelInput, ModelOutput, Qwen3VlConfig, Qwen3VlModel, read_f32};
use reference_fixtures::{Case, Reference, cases, gpu_cases, max_abs_diff, tiny_model_dir};

const HIDDEN_TOL: f32 = 1e-4;
const EMBED_TOL: f32 = 1e-5;

fn load(device: &Device) -> Qwen3VlModel {
    let dir = tiny_model_dir();
    let config = Qwen3VlConfig::from_json_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    Qwen3VlModel::load(&Checkpoint::open_dir(&dir).unwrap(), config, device, DType::F32).unwrap()
}

fn read(t: burn::tensor::Tensor<2>) -> Vec<f32> {
    pollster::block_on(read_f32(t)).unwrap()
}

fn normalize(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}

/// Runs each given case whose full pixel values are committed and prints the worst errors.
fn check_cases(device: &Device, backend: &str, cases: Vec<Case>) {
    let model = load(device);
    let hidden = model.config().text.hidden_size;
    let mut worst = (0f32, 0f32, 0f32);
    for case in cases {
        let r = Reference::load(&case.name);
        let grids = r.grids();
        let Some(pixels) = r.try_float("pixel_values") else {
            assert!(grids.is_empty() || case.name == "large_image", "{}: no pixel values", case.name);
            if !grids.is_empty() {
                continue; // only sampled rows are committed; the embedder test covers it
            }
            run_case(&model, &case.name, &r, Vec::new(), hidden, &mut worst);
            continue;
        };
        run_case(&model, &case.name, &r, pixels.values.clone(), hidden, &mut worst);
    }
    println!("{backend}: max |err| vision {:.2e}, last_hidden {:.2e}, embedding {:.2e}", worst.0, worst.1, worst.2);
}

fn run_case(
    model: &Qwen3VlModel,
    name: &str,
    r: &Reference,
    pixel_values: Vec<f32>,
    hidden: usize,
    worst: &mut (f32, f32, f32),
) {
    let rows = r.rows();
    let input = ModelInput { rows: rows.clone(), pixel_values, grids: r.grids() };
    let out = model.forward_with_vision(input.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        out.vision.is_some(),
        !input.grids.is_empty(),
        "{name}: vision outputs kept exactly when there are images"
    );

    // Positions: exact, on every unpadded token.
    let ref_pos = r.int("position_ids");
    let seq = ref_pos.shape[2];
    for axis in 0..3 {
        for (b, row) in rows.iter().enumerate() {
            let expected = &ref_pos.values[(axis * rows.len() + b) * seq..][..row.len()];
            assert_eq!(&out.position_ids[axis][b][..row.len()], expected, "{name}: positions axis {axis} row {b}");
        }
    }

    if let Some(v) = &out.vision {
        let mut check = |label: &str, got: Vec<f32>, key: &str| {
            let err = max_abs_diff(&got, &r.float(key).values);
            assert!(err <= HIDDEN_TOL, "{name}: {label} max |err| {err:e}");
            worst.0 = worst.0.max(err);
        };
        check("vision hidden", read(v.last_hidden.clone().expect("kept")), "vision_hidden");
        check("vision merged", read(v.merged.clone()), "vision_merged");
        for (i, ds) in v.deepstack.iter().enumerate() {
            check("deepstack", read(ds.clone()), &format!("deepstack_{i}"));
        }
    }

    check_outputs(name, r, &rows, out, 0, hidden, worst);

    // The same batch with its shared text prefix reused: kept by one pass, then skipped by
    // the next, which runs only the positions after it; both against the same reference.
    let p = shared_text_prefix(&rows, model.config().image_token_id);
    let (kept, cache) = model.forward_keeping_prefix(input.clone(), p).unwrap_or_else(|e| panic!("{name}: {e}"));
    check_outputs(name, r, &rows, kept, 0, hidden, worst);
    let after = model.forward_after_prefix(input, &cache).unwrap_or_else(|e| panic!("{name}: {e}"));
    check_outputs(&format!("{name} after a {p}-token prefix"), r, &rows, after, p, hidden, worst);
}

/// The longest token prefix every row shares, stopping before the first image token and
/// leaving each row at least one token after it.
fn shared_text_prefix(rows: &[Vec<u32>], image_token: u32) -> usize {
    let first = &rows[0];
    let limit = rows.iter().map(|r| r.len() - 1).min().unwrap();
    (0..limit).take_while(|&i| first[i] != image_token && rows.iter().all(|r| r[i] == first[i])).count()
}

/// The last hidden state on every unpadded position from `skipped` on (the positions a pass
/// after a prefix of that many tokens ran) and the pooled embedding, against the reference.
fn check_outputs(
    name: &str,
    r: &Reference,
    rows: &[Vec<u32>],
    out: ModelOutput,
    skipped: usize,
    hidden: usize,
    worst: &mut (f32, f32, f32),
) {
    let got = pollster::block_on(read_f32(out.last_hidden_state)).unwrap();
    let expected = &r.float("last_hidden_state").values;
    let ref_seq = r.float("last_hidden_state").shape[1];
    let our_seq = got.len() / (rows.len() * hidden);
    for (b, row) in rows.iter().enumerate() {
        for s in skipped..row.len() {
            let g = &got[(b * our_seq + s - skipped) * hidden..][..hidden];
            let e = &expected[(b * ref_seq + s) * hidden..][..hidden];
            let err = max_abs_diff(g, e);
            assert!(err <= HIDDEN_TOL, "{name}: hidden row {b} pos {s} max |err| {err:e}");
            worst.1 = worst.1.max(err);
        }
    }

    let pooled = read(out.pooled);
    let ref_emb = &r.float("embedding").values;
    for (b, row) in pooled.chunks_exact(hidden).enumerate() {
        let err = max_abs_diff(&normalize(row), &ref_emb[b * hidden..][..hidden]);
        assert!(err <= EMBED_TOL, "{name}: embedding row {b} max |err| {err:e}");
        worst.2 = worst.2.max(err);
    }
}

#[test]
fn matches_transformers_on_cpu() {
    check_cases(&Device::flex(), "cpu", cases());
}

/// Every shape class on lavapipe in CI; every case with `QWEN3_VL_FULL_MATRIX=1`.
#[test]
fn matches_transformers_on_wgpu() {
    let device = Device::wgpu_options()
        .init()
        .expect("no wgpu adapter: install Mesa lavapipe (mesa-vulkan-drivers) or run on a GPU");
    check_cases(&device, "wgpu", gpu_cases("model parity on wgpu"));
}
