//! The Qdrant export, parsed back with serde_json and checked item by item against the index.

mod common;

use std::collections::{HashMap, HashSet};

use common::clustered_index;
use serde_json::{Value, json};
use sha2::Digest;
use vector_index::Strategy;
use vector_index::export::qdrant_point_id;

#[test]
fn every_live_item_is_exported_once_with_its_vector_and_metadata() {
    let mut index = clustered_index(250, 12, Strategy::Exact, 3);
    for i in (0..250).step_by(10) {
        index.remove(&format!("item-{i}")).unwrap();
    }
    let v = index.get("item-1").unwrap().vector.to_vec();
    index.add("ключ 🔑 \"quoted\"", &v, json!({"nested": {"list": [1, 2.5, "x"]}})).unwrap();
    index.add("item-2", &v, Value::Null).unwrap(); // replaced: exported once, as it is now
    index.add("plain string metadata", &v, json!("just a string")).unwrap();

    let mut out = Vec::new();
    assert_eq!(index.export_qdrant(&mut out, 7).unwrap(), index.len());
    let text = String::from_utf8(out).unwrap();
    let mut exported: HashMap<String, Value> = HashMap::new();
    let mut point_ids = HashSet::new();
    for line in text.lines() {
        let body: Value = serde_json::from_str(line).unwrap();
        let points = body["points"].as_array().unwrap();
        assert!((1..=7).contains(&points.len()), "batches of at most 7");
        for point in points {
            let id = point["payload"]["id"].as_str().unwrap().to_string();
            let uuid = point["id"].as_str().unwrap();
            assert_eq!(uuid, independent_uuid(&id));
            assert!(point_ids.insert(uuid.to_string()), "point ids are unique");
            assert!(exported.insert(id.clone(), point.clone()).is_none(), "{id} exported twice");
        }
    }
    assert_eq!(text.lines().count(), index.len().div_ceil(7));
    let live: HashSet<&str> = index.iter().map(|i| i.id).collect();
    assert_eq!(exported.keys().map(String::as_str).collect::<HashSet<_>>(), live);
    for item in index.iter() {
        let point = &exported[item.id];
        let vector: Vec<f32> = point["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&vector), bits(item.vector), "{}: the vector round-trips exactly", item.id);
        assert_eq!(&point["payload"]["metadata"], item.metadata, "{}", item.id);
        assert_eq!(point["payload"].as_object().unwrap().len(), 2, "payload holds id and metadata only");
    }
    assert_eq!(index.qdrant_collection(), json!({"vectors": {"size": 12, "distance": "Cosine"}}));
}

#[test]
fn an_empty_index_exports_nothing() {
    let index = clustered_index(0, 4, Strategy::Exact, 1);
    let mut out = Vec::new();
    assert_eq!(index.export_qdrant(&mut out, 100).unwrap(), 0);
    assert!(out.is_empty());
}

/// The UUID as the docs define it, computed here without the crate's code: the first 16 bytes
/// of sha256("vector-index:" + id), version nibble 8, variant bits 10, in 8-4-4-4-12 hex.
fn independent_uuid(id: &str) -> String {
    let digest = sha2::Sha256::digest(format!("vector-index:{id}").as_bytes());
    let mut hex: Vec<char> =
        digest.iter().take(16).flat_map(|b| format!("{b:02x}").chars().collect::<Vec<_>>()).collect();
    hex[12] = '8';
    hex[16] = ['8', '9', 'a', 'b'][(u8::from_str_radix(&hex[16].to_string(), 16).unwrap() & 0x3) as usize];
    let hex: String = hex.into_iter().collect();
    let uuid = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    assert_eq!(qdrant_point_id(id), uuid);
    uuid
}
