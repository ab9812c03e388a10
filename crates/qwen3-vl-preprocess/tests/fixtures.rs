//! Parity with the transformers + qwen_vl_utils + Pillow 13 reference outputs in
//! `tests/fixtures/reference/`: rendered prompts, token ids, decoded RGB, resize oracle,
//! `pixel_values` and `image_grid_thw`.

mod common;

use common::{TOKENIZERS, Tensors, json, read};
use qwen3_vl_preprocess::image::{
    ImageOptions, Normalization, PreparedImage, decode_rgb, prepare_image, prepare_rgb, resize_bicubic, resize_image,
};
use qwen3_vl_preprocess::prompt::{normalize_instruction, render_prompt};
use qwen3_vl_preprocess::tokenize::PromptTokenizer;

/// The reference's `max_length`.
const MAX_LENGTH: usize = 8192;

fn cases() -> Vec<serde_json::Value> {
    json("reference/cases.json").as_array().expect("cases.json is a list").clone()
}

fn str_field<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(|x| x.as_str())
}

fn images_of(input: &serde_json::Value) -> Vec<String> {
    input["images"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect()
}

#[test]
fn rendered_prompts_match_the_chat_template() {
    let mut checked = 0;
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        for (input, want) in case["inputs"].as_array().unwrap().iter().zip(case["prompts"].as_array().unwrap()) {
            let instruction = normalize_instruction(str_field(input, "instruction"));
            let got = render_prompt(&instruction, images_of(input).len(), str_field(input, "text"));
            assert_eq!(got, want.as_str().unwrap(), "case {name}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} prompts checked");
}

#[test]
fn tokenizer_cases_give_reference_ids_with_both_tokenizers() {
    let cases = json("reference/tokenizer_cases.json");
    let cases = cases.as_array().unwrap();
    assert!(!cases.is_empty());
    for path in TOKENIZERS {
        let tok = PromptTokenizer::from_bytes(&read(path)).unwrap();
        for case in cases {
            let text = case["text"].as_str().unwrap();
            let want: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            // One pad per placeholder, left unexpanded, is what the raw text tokenises to.
            let pads = want.iter().filter(|&&id| id == 151655).count();
            let got = tok.encode(text, &vec![1; pads], MAX_LENGTH).unwrap();
            assert_eq!(got, want, "{path}: {text:?}");
        }
    }
}

#[test]
fn eos_append_is_detected_per_tokenizer() {
    let appends = PromptTokenizer::from_bytes(&read(TOKENIZERS[0])).unwrap();
    let plain = PromptTokenizer::from_bytes(&read(TOKENIZERS[1])).unwrap();
    assert!(appends.appends_eos());
    assert!(!plain.appends_eos());
}

/// The fixtures were made with `Qwen2VLImageProcessorPil`; with its rounding we match bit for
/// bit, with the default (torchvision) rounding to within one f32 ulp.
fn pil_options() -> ImageOptions {
    ImageOptions { normalization: Normalization::Pil, ..ImageOptions::default() }
}

/// One f32 ulp of values in [-1, 1]: the gap between the two backends' normalisations.
const BACKEND_TOLERANCE: f32 = 6e-8;

/// Prepares every image of a case from its file.
fn prepare_case_images_with(input: &serde_json::Value, opts: &ImageOptions) -> Vec<PreparedImage> {
    images_of(input).iter().map(|p| prepare_image(&read(p), opts).unwrap_or_else(|e| panic!("{p}: {e}"))).collect()
}

fn prepare_case_images(input: &serde_json::Value) -> Vec<PreparedImage> {
    prepare_case_images_with(input, &ImageOptions::default())
}

/// `input_ids` rows of a case, with right padding removed by the attention mask.
fn reference_ids(t: &Tensors) -> Vec<Vec<u32>> {
    let (shape, ids) = t.i64("input_ids");
    let mask = if t.has("attention_mask") { t.i64("attention_mask").1 } else { vec![1; ids.len()] };
    ids.chunks_exact(shape[1])
        .zip(mask.chunks_exact(shape[1]))
        .map(|(row, m)| row.iter().zip(m).filter(|(_, m)| **m == 1).map(|(id, _)| *id as u32).collect())
        .collect()
}

#[test]
fn case_token_ids_match_with_both_tokenizers() {
    let tokenizers: Vec<_> = TOKENIZERS.iter().map(|p| PromptTokenizer::from_bytes(&read(p)).unwrap()).collect();
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let t = Tensors::open(&format!("reference/{name}.safetensors"));
        let want = reference_ids(&t);
        let inputs = case["inputs"].as_array().unwrap();
        assert_eq!(want.len(), inputs.len(), "case {name}: batch size");
        for ((input, prompt), want) in inputs.iter().zip(case["prompts"].as_array().unwrap()).zip(&want) {
            let counts: Vec<usize> = prepare_case_images(input).iter().map(PreparedImage::num_tokens).collect();
            for tok in &tokenizers {
                let got = tok.encode(prompt.as_str().unwrap(), &counts, MAX_LENGTH).unwrap();
                assert_eq!(&got, want, "case {name}, appends_eos={}", tok.appends_eos());
            }
        }
    }
}

/// Largest absolute difference between two equally long slices.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Concatenated `pixel_values` and grids of a whole case, images in batch order.
fn concat(images: &[PreparedImage]) -> (Vec<f32>, Vec<i64>) {
    let values = images.iter().flat_map(|p| p.pixel_values.iter().copied()).collect();
    let grids = images.iter().flat_map(|p| p.grid_thw.map(i64::from)).collect();
    (values, grids)
}

/// Checks prepared images against a case's `pixel_values` (or its sampled rows) and grids.
fn assert_matches_reference(name: &str, t: &Tensors, images: &[PreparedImage], tolerance: f32) {
    let (values, grids) = concat(images);
    assert_eq!(t.i64("image_grid_thw").1, grids, "case {name}: image_grid_thw");
    if t.has("pixel_values") {
        let (shape, want) = t.f32("pixel_values");
        assert_eq!(shape[0] * shape[1], values.len(), "case {name}: pixel_values shape {shape:?}");
        let diff = max_abs_diff(&values, &want);
        assert!(diff <= tolerance, "case {name}: pixel_values differ by {diff}");
    } else {
        let (_, rows) = t.i64("pixel_values_rows");
        let (_, want) = t.f32("pixel_values_sampled");
        let got: Vec<f32> = rows.iter().flat_map(|&r| values[r as usize * 1536..][..1536].iter().copied()).collect();
        let diff = max_abs_diff(&got, &want);
        assert!(diff <= tolerance, "case {name}: sampled pixel_values rows differ by {diff}");
    }
}

fn image_cases() -> impl Iterator<Item = (String, serde_json::Value)> {
    cases().into_iter().filter_map(|c| {
        let inputs = c["inputs"].as_array().unwrap().clone();
        let any = inputs.iter().any(|i| !images_of(i).is_empty());
        any.then(|| (c["name"].as_str().unwrap().to_owned(), serde_json::Value::Array(inputs)))
    })
}

#[test]
fn pixel_values_from_image_files_match_exactly() {
    let mut checked = 0;
    for (name, inputs) in image_cases() {
        let t = Tensors::open(&format!("reference/{name}.safetensors"));
        let inputs = inputs.as_array().unwrap();
        let pil: Vec<PreparedImage> = inputs.iter().flat_map(|i| prepare_case_images_with(i, &pil_options())).collect();
        assert_matches_reference(&name, &t, &pil, 0.0);
        let torchvision: Vec<PreparedImage> = inputs.iter().flat_map(prepare_case_images).collect();
        assert_matches_reference(&name, &t, &torchvision, BACKEND_TOLERANCE);
        checked += 1;
    }
    assert!(checked >= 13, "only {checked} image cases checked");
}

/// An image held resized, before its patches are cut (what the embedder keeps while it sorts
/// a window of inputs), counts the tokens its patches take; its patches are `prepare_image`'s
/// (which the test above checks against the reference).
#[test]
fn resized_images_count_the_tokens_of_their_patches() {
    let mut checked = 0;
    for (_, inputs) in image_cases() {
        for path in inputs.as_array().unwrap().iter().flat_map(images_of) {
            let (bytes, opts) = (read(&path), ImageOptions::default());
            let (resized, prepared) = (resize_image(&bytes, &opts).unwrap(), prepare_image(&bytes, &opts).unwrap());
            assert_eq!(resized.num_tokens(), prepared.num_tokens(), "{path}");
            assert_eq!(resized.patchify().unwrap(), prepared, "{path}");
            checked += 1;
        }
    }
    assert!(checked >= 13, "only {checked} images checked");
}

#[test]
fn pixel_values_from_reference_decoded_rgb_match_exactly() {
    // Starting from Pillow's own decoded RGB isolates resize + normalise + patchify.
    for (name, inputs) in image_cases() {
        let t = Tensors::open(&format!("reference/{name}.safetensors"));
        if !t.has("decoded_rgb_0") {
            continue; // large_image stores no decoded RGB; its file decode is checked above
        }
        let n: usize = inputs.as_array().unwrap().iter().map(|i| images_of(i).len()).sum();
        let images: Vec<PreparedImage> =
            (0..n).map(|k| prepare_rgb(&t.rgb(&format!("decoded_rgb_{k}")), &pil_options()).unwrap()).collect();
        assert_matches_reference(&name, &t, &images, 0.0);
    }
}

#[test]
fn decoded_rgb_matches_pillow() {
    for (name, inputs) in image_cases() {
        let t = Tensors::open(&format!("reference/{name}.safetensors"));
        let paths: Vec<String> = inputs.as_array().unwrap().iter().flat_map(images_of).collect();
        for (k, path) in paths.iter().enumerate() {
            let key = format!("decoded_rgb_{k}");
            if !t.has(&key) {
                continue;
            }
            let got = decode_rgb(&read(path), &Default::default()).unwrap();
            assert_eq!(got, t.rgb(&key), "case {name}: {path} decodes differently from Pillow");
        }
    }
}

#[test]
fn resize_oracle_is_byte_exact() {
    let t = Tensors::open("reference/resize_cases.safetensors");
    let cases = json("reference/resize_cases.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let src = t.rgb(case["src"].as_str().unwrap());
        let want = t.rgb(case["out"].as_str().unwrap());
        let (w, h) = (case["dst_w"].as_u64().unwrap() as u32, case["dst_h"].as_u64().unwrap() as u32);
        assert_eq!(resize_bicubic(&src, w, h), want, "resize case {}", case["note"]);
    }
}
