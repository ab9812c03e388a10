//! `convert_dir`: a converted directory loads directly and gives the same vectors as
//! quantizing (or rounding) the original at load time; failures leave no output behind.

use std::path::{Path, PathBuf};

use qwen3_vl_embedder::convert::{WeightLayout, convert_dir};
use qwen3_vl_embedder::{DeviceChoice, EmbedError, EmbedInput, Embedder, EmbedderOptions, Precision, start_device};
use reference_fixtures::{Reference, cases, tiny_model_dir};

/// A fresh, empty scratch path (not created) unique to this test run.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qwen3-vl-convert-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every input of the cases that exercise text, an image and a padded batch.
fn inputs() -> Vec<EmbedInput> {
    cases()
        .into_iter()
        .filter(|c| ["text", "text_image", "batch"].contains(&c.name.as_str()))
        .flat_map(|c| c.inputs)
        .map(|i| EmbedInput { text: i.text.clone(), images: i.image_bytes(), instruction: i.instruction.clone() })
        .collect()
}

fn embed(dir: &Path, precision: Precision) -> Result<Vec<Vec<f32>>, EmbedError> {
    embed_on(DeviceChoice::Cpu, dir, precision)
}

fn embed_on(choice: DeviceChoice, dir: &Path, precision: Precision) -> Result<Vec<Vec<f32>>, EmbedError> {
    let device = start_device(choice).unwrap();
    let options = EmbedderOptions { dtype: precision.dtype(), ..EmbedderOptions::default() };
    Embedder::from_dir(dir, &device.device, options)?.embed_batch(&inputs(), None)
}

/// int8 and q4: the converted directory's vectors equal, bit for bit, those of the original
/// quantized at load (the stored codes are the load's own, read back without arithmetic).
#[test]
fn converted_int8_and_q4_load_to_the_same_vectors_bitwise() {
    for precision in [Precision::Int8, Precision::Q4] {
        let out = scratch(precision.name());
        let stats = convert_dir(&tiny_model_dir(), &out, precision, WeightLayout::Portable, |_| {}).unwrap();
        assert!(stats.packed_weights > 0, "{precision}: no packed weights");
        for file in ["config.json", "tokenizer.json", "model.safetensors", "qwen3-vl-embed-format.json"] {
            assert!(out.join(file).is_file(), "{precision}: {file} missing");
        }
        assert_eq!(qwen3_vl_embedder::model_files::read_format(&out).unwrap(), Some(precision));
        let want = embed(&tiny_model_dir(), precision).unwrap();
        let got = embed(&out, precision).unwrap();
        assert_eq!(got, want, "{precision}: converted vs quantized at load");
        // Packed weights only load in their own precision, with a typed error that says so.
        let err = embed(&out, Precision::F32).unwrap_err();
        assert!(
            matches!(err, EmbedError::Model(qwen3_vl_model::ModelError::ConvertedPrecision { .. })),
            "{precision}: {err}"
        );
        assert!(err.to_string().contains(precision.name()), "{err}");
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// The CPU kernels' layout (bf16, int8, q4): the directory is mapped and its arrays used in
/// place, and gives the vectors of packing the original at load, bit for bit; only in its own
/// precision, only on the CPU device, never in f16 (typed errors that say so).
#[test]
fn cpu_layout_directories_load_to_the_same_vectors_bitwise() {
    for precision in [Precision::Bf16, Precision::Int8, Precision::Q4] {
        let out = scratch(&format!("cpu-{}", precision.name()));
        let stats = convert_dir(&tiny_model_dir(), &out, precision, WeightLayout::CpuKernels, |_| {}).unwrap();
        assert!(stats.packed_weights > 0, "{precision}: no packed weights");
        assert_eq!(qwen3_vl_embedder::model_files::read_format(&out).unwrap(), Some(precision));
        let format = std::fs::read_to_string(out.join("qwen3-vl-embed-format.json")).unwrap();
        assert!(format.contains(r#""layout": "cpu""#), "{format}");
        let want = embed(&tiny_model_dir(), precision).unwrap();
        assert_eq!(embed(&out, precision).unwrap(), want, "{precision}: CPU layout vs packed at load");
        let other = if precision == Precision::Bf16 { Precision::Int8 } else { Precision::Bf16 };
        // Into the portable layout: int8 and q4 re-pack what the load read (the same vectors);
        // a rounding conversion of the arrays is refused.
        if precision != Precision::Bf16 {
            let portable = scratch(&format!("cpu-portable-{}", precision.name()));
            convert_dir(&out, &portable, precision, WeightLayout::Portable, |_| {}).unwrap();
            assert_eq!(embed(&portable, precision).unwrap(), want, "{precision}: CPU layout -> portable");
            std::fs::remove_dir_all(&portable).unwrap();
        }
        let refused = scratch(&format!("cpu-round-{}", precision.name()));
        let err = convert_dir(&out, &refused, Precision::F16, WeightLayout::Portable, |_| {}).unwrap_err();
        assert!(err.to_string().contains("CPU kernels' layout"), "{precision}: {err}");
        assert!(!refused.exists());
        let err = embed(&out, other).unwrap_err();
        assert!(
            matches!(err, EmbedError::Model(qwen3_vl_model::ModelError::ConvertedPrecision { .. })),
            "{precision} loaded as {other}: {err}"
        );
        // wgpu refuses bf16 weights before reading any (UnsupportedPrecision); int8 and q4
        // reach the weights, which say where they can be used.
        let err = embed_on(DeviceChoice::Wgpu, &out, precision).unwrap_err();
        assert!(
            matches!(
                err,
                EmbedError::Model(
                    qwen3_vl_model::ModelError::CpuLayoutDevice { .. }
                        | qwen3_vl_model::ModelError::UnsupportedPrecision { .. }
                )
            ) && (precision == Precision::Bf16) == err.to_string().contains("cannot hold"),
            "{precision} on wgpu: {err}"
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
    let out = scratch("cpu-f16");
    let err = convert_dir(&tiny_model_dir(), &out, Precision::F16, WeightLayout::CpuKernels, |_| {}).unwrap_err();
    assert!(matches!(err, EmbedError::BadConvertOutput { .. }) && err.to_string().contains("f16"), "{err}");
    assert!(!out.exists());
}

/// The same on wgpu (lavapipe in CI): the stored values go to the device as they are, so the
/// converted directory gives the vectors of quantizing at load there too, bit for bit, and
/// only in its own precision.
#[test]
fn converted_int8_and_q4_load_on_wgpu_to_the_same_vectors_bitwise() {
    for precision in [Precision::Int8, Precision::Q4] {
        let out = scratch(&format!("wgpu-{}", precision.name()));
        convert_dir(&tiny_model_dir(), &out, precision, WeightLayout::Portable, |_| {}).unwrap();
        let want = embed_on(DeviceChoice::Wgpu, &tiny_model_dir(), precision).unwrap();
        let got = embed_on(DeviceChoice::Wgpu, &out, precision).unwrap();
        assert_eq!(got, want, "{precision} on wgpu: converted vs quantized at load");
        let err = embed_on(DeviceChoice::Wgpu, &out, Precision::F32).unwrap_err();
        assert!(matches!(err, EmbedError::Model(qwen3_vl_model::ModelError::ConvertedPrecision { .. })), "{err}");
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// bf16 and f16: a plain checkpoint rounded once. bf16 loads to the vectors of rounding the
/// original at load (bitwise); f16 stays within the half-precision bound of the reference.
#[test]
fn converted_bf16_and_f16_match_rounding_at_load() {
    let out = scratch("bf16");
    convert_dir(&tiny_model_dir(), &out, Precision::Bf16, WeightLayout::Portable, |_| {}).unwrap();
    assert_eq!(embed(&out, Precision::Bf16).unwrap(), embed(&tiny_model_dir(), Precision::Bf16).unwrap());
    std::fs::remove_dir_all(&out).unwrap();

    let out = scratch("f16");
    convert_dir(&tiny_model_dir(), &out, Precision::F16, WeightLayout::Portable, |_| {}).unwrap();
    let got = embed(&out, Precision::F32).unwrap();
    let reference = Reference::load("text");
    let cosine: f32 = got[0].iter().zip(&reference.float("embedding").values).map(|(a, b)| a * b).sum();
    assert!(cosine >= 0.9999, "f16 checkpoint, text: cosine {cosine}");
    std::fs::remove_dir_all(&out).unwrap();
}

/// A refused or failed conversion writes nothing: a non-empty output is left as it was, and a
/// source with broken weights leaves neither the output nor the temporary directory.
#[test]
fn failed_conversions_leave_nothing_behind() {
    let out = scratch("busy");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"mine").unwrap();
    let err = convert_dir(&tiny_model_dir(), &out, Precision::Q4, WeightLayout::Portable, |_| {}).unwrap_err();
    assert!(matches!(err, EmbedError::BadConvertOutput { .. }), "{err}");
    assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"mine");
    std::fs::remove_dir_all(&out).unwrap();

    let src = scratch("broken-src");
    std::fs::create_dir_all(&src).unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(tiny_model_dir().join(file), src.join(file)).unwrap();
    }
    let weights = std::fs::read(tiny_model_dir().join("model.safetensors")).unwrap();
    std::fs::write(src.join("model.safetensors"), &weights[..weights.len() / 2]).unwrap();
    let out = scratch("from-broken");
    let err = convert_dir(&src, &out, Precision::Q4, WeightLayout::Portable, |_| {}).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    assert!(!out.exists(), "a failed conversion left {}", out.display());
    let parent = out.parent().unwrap();
    let temp = parent.join(format!(".{}.converting", out.file_name().unwrap().to_string_lossy()));
    assert!(!temp.exists(), "a failed conversion left its temporary directory");
    std::fs::remove_dir_all(&src).unwrap();
}

/// A format file from a newer tool (or damaged) is a typed error, not a guess.
#[test]
fn unknown_formats_are_refused() {
    let dir = scratch("future");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("qwen3-vl-embed-format.json"),
        br#"{"format":"qwen3-vl-embed-converted","version":99,"precision":"q4","linear_weights":"","other_tensors":"","written_by":""}"#,
    )
    .unwrap();
    let err = qwen3_vl_embedder::model_files::read_format(&dir).unwrap_err();
    assert!(matches!(err, EmbedError::BadConvertedFormat(_)) && err.to_string().contains("version 99"), "{err}");
    std::fs::write(dir.join("qwen3-vl-embed-format.json"), b"not json").unwrap();
    assert!(matches!(qwen3_vl_embedder::model_files::read_format(&dir), Err(EmbedError::BadConvertedFormat(_))));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A measurement, not a check: load time, first and second embedding time of the benchmark's
/// 32-token text query, and cosines between precisions, for the directories in
/// `QWEN3_VL_MEASURE_DIRS` (`PRECISION=DIR,...`, e.g. `f32=/m/2b,q4=/tmp/2b-q4`; the first is
/// the reference). Run with `cargo test -p qwen3-vl-embedder --test converted measure --
/// --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run by hand"]
fn measure_text_query() {
    let spec = std::env::var("QWEN3_VL_MEASURE_DIRS").expect("QWEN3_VL_MEASURE_DIRS=PRECISION=DIR,...");
    let device = start_device(DeviceChoice::Cpu).unwrap();
    let input = EmbedInput::text("Turn off Night Shift and set the display brightness to fifty percent");
    let mut first: Option<Vec<f32>> = None;
    for item in spec.split(',') {
        let (precision, dir) = item.split_once('=').expect("PRECISION=DIR");
        let precision: Precision = precision.parse().unwrap();
        let options = EmbedderOptions { dtype: precision.dtype(), ..EmbedderOptions::default() };
        let t = std::time::Instant::now();
        let e = Embedder::from_dir(Path::new(dir), &device.device, options).unwrap();
        let load = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let v = e.embed(&input, None).unwrap();
        let once = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        e.embed(&input, None).unwrap();
        let twice = t.elapsed().as_secs_f64();
        let cosine = first.as_ref().map_or(1.0, |f| f.iter().zip(&v).map(|(a, b)| a * b).sum::<f32>());
        println!(
            "{precision} {dir}: load {load:.1} s, first {once:.2} s, second {twice:.2} s, cosine to the first {cosine:.6}"
        );
        first.get_or_insert(v);
    }
}
