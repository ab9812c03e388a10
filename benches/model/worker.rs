//! Benchmark worker: our embedder, loaded once, timing the requests a driver sends.
//!
//! The driver (`benches/model/driver.py`) starts this process and a PyTorch one side by side
//! and alternates requests between them, so both see the same machine state. This worker
//! speaks JSON lines: it prints `{"ready": ..., "load_s": ...}` after loading, then answers each
//! request line `{"case": "...", "items": [{"text": ..., "image": "path"}]}` with
//! `{"seconds": ..., "first": [embedding of item 0], "rss_peak_gib": ...}`. Image files are read
//! before the clock starts; decoding, resizing, tokenizing and the forward pass are timed.
//!
//! ```text
//! cargo run --release -p qwen3-vl-embed-cli --features bench-worker --bin qwen3-vl-embed-bench-worker -- \
//!     --model DIR --device cpu --dtype f32
//! ```

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use qwen3_vl_embedder::{DType, DeviceChoice, EmbedInput, Embedder, EmbedderOptions, Precision, start_device};
use serde_json::{Value, json};

struct Args {
    model: PathBuf,
    device: DeviceChoice,
    dtype: DType,
    batch_size: usize,
    max_batch_tokens: usize,
    reuse_prefix: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut model = None;
    let mut device = DeviceChoice::Cpu;
    let mut dtype = DType::F32;
    let mut batch_size = EmbedderOptions::default().batch_size;
    let mut max_batch_tokens = EmbedderOptions::default().max_batch_tokens;
    let mut reuse_prefix = EmbedderOptions::default().reuse_prefix;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--device" => device = value()?.parse().map_err(|e| format!("{e}"))?,
            "--dtype" => dtype = value()?.parse::<Precision>().map_err(|e| format!("--dtype: {e}"))?.dtype(),
            "--batch-size" => batch_size = value()?.parse().map_err(|e| format!("--batch-size: {e}"))?,
            "--max-batch-tokens" => {
                max_batch_tokens = value()?.parse().map_err(|e| format!("--max-batch-tokens: {e}"))?
            }
            // The instruction prefix computed once (the default) or in every call.
            "--reuse-prefix" => {
                reuse_prefix = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--reuse-prefix: expected on or off, got {other}")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let model = model.ok_or("--model DIR is required")?;
    Ok(Args { model, device, dtype, batch_size, max_batch_tokens, reuse_prefix })
}

/// Peak resident set size of this process (VmHWM), in GiB; 0 where /proc is missing.
fn rss_peak_gib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0)
}

fn read_items(request: &Value) -> Result<Vec<EmbedInput>, String> {
    let items = request["items"].as_array().ok_or("request has no items")?;
    items
        .iter()
        .map(|item| {
            let mut input = EmbedInput { text: item["text"].as_str().map(str::to_string), ..Default::default() };
            if let Some(path) = item["image"].as_str() {
                input.images.push(std::fs::read(path).map_err(|e| format!("{path}: {e}"))?);
            }
            Ok(input)
        })
        .collect()
}

fn serve(embedder: &Embedder) -> Result<(), String> {
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let request: Value = serde_json::from_str(&line).map_err(|e| format!("bad request: {e}"))?;
        let inputs = read_items(&request)?;
        let start = Instant::now();
        let vectors = embedder.embed_batch(&inputs, None).map_err(|e| e.to_string())?;
        let seconds = start.elapsed().as_secs_f64();
        let reply = json!({
            "case": request["case"],
            "seconds": seconds,
            "first": vectors.first(),
            "rss_peak_gib": rss_peak_gib(),
        });
        let mut out = stdout.lock();
        writeln!(out, "{reply}").and_then(|_| out.flush()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() {
    let result = parse_args().and_then(|args| {
        let device = start_device(args.device).map_err(|e| e.to_string())?;
        let options = EmbedderOptions {
            dtype: args.dtype,
            batch_size: args.batch_size,
            max_batch_tokens: args.max_batch_tokens,
            reuse_prefix: args.reuse_prefix,
            ..Default::default()
        };
        let start = Instant::now();
        let embedder = Embedder::from_dir(&args.model, &device.device, options).map_err(|e| e.to_string())?;
        let load_s = start.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({ "ready": true, "device": device.name, "load_s": load_s, "rss_peak_gib": rss_peak_gib() })
        );
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        serve(&embedder)
    });
    if let Err(message) = result {
        eprintln!("model-worker: {message}");
        std::process::exit(1);
    }
}
