//! Search correctness: exact equals brute force, HNSW recall, and add/remove/replace semantics.

mod common;

use std::collections::HashSet;

use common::{clustered_index, config};
use serde_json::{Value, json};
use vector_index::synthetic::{clustered, gaussian};
use vector_index::{Error, Index, Strategy};

/// Brute-force top-k in f64 over the index's stored (normalised) vectors.
fn reference(index: &Index, query: &[f32], k: usize, keep: impl Fn(&str, &Value) -> bool) -> Vec<(String, f64)> {
    let norm = query.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let mut all: Vec<(String, f64)> = index
        .iter()
        .filter(|item| keep(item.id, item.metadata))
        .map(|item| {
            (item.id.to_string(), item.vector.iter().zip(query).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() / norm)
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}

fn assert_same(got: &[(String, f32)], want: &[(String, f64)]) {
    assert_eq!(got.len(), want.len());
    for ((id, score), (want_id, want_score)) in got.iter().zip(want) {
        assert!((*score as f64 - want_score).abs() < 1e-5, "{id}: {score} vs {want_score}");
        assert_eq!(id, want_id);
    }
}

#[test]
fn exact_search_equals_brute_force_on_random_data() {
    let (n, dim) = (3000, 48);
    let data = gaussian(n, dim, 7);
    let mut index = Index::new(config(dim, Strategy::Exact)).unwrap();
    index.add_batch(data.chunks_exact(dim).enumerate().map(|(i, v)| (format!("{i}"), v, json!(i)))).unwrap();
    let queries = gaussian(40, dim, 8);
    for q in queries.chunks_exact(dim) {
        for k in [1, 10, 57] {
            assert_same(&index.search(q, k).unwrap(), &reference(&index, q, k, |_, _| true));
        }
        let odd = |_: &str, m: &Value| m.as_u64().unwrap() % 2 == 1;
        assert_same(&index.search_filtered(q, 10, odd).unwrap(), &reference(&index, q, 10, odd));
    }
    assert_eq!(index.search(&queries[..dim], n + 10).unwrap().len(), n);
    assert!(index.search(&queries[..dim], 0).unwrap().is_empty());
}

/// Same ids in the same order, scores equal up to float rounding (the batched kernel sums in a
/// different order than the one-query kernel).
fn assert_close(got: &[(String, f32)], want: &[(String, f32)]) {
    assert_eq!(got.iter().map(|h| &h.0).collect::<Vec<_>>(), want.iter().map(|h| &h.0).collect::<Vec<_>>());
    for (g, w) in got.iter().zip(want) {
        assert!((g.1 - w.1).abs() < 1e-5, "{}: {} vs {}", g.0, g.1, w.1);
    }
}

#[test]
fn search_batch_equals_per_query_search_and_brute_force() {
    // 61 queries: several full query blocks of the kernel plus ragged edges; 3001 rows likewise.
    let (n, dim) = (3001, 40);
    let data = gaussian(n, dim, 11);
    let queries = gaussian(61, dim, 12);
    let odd = |_: &str, m: &Value| m.as_u64().unwrap() % 2 == 1;
    for strategy in [Strategy::Exact, Strategy::Hnsw] {
        let mut index = Index::new(config(dim, strategy)).unwrap();
        index.add_batch(data.chunks_exact(dim).enumerate().map(|(i, v)| (format!("{i}"), v, json!(i)))).unwrap();
        // A single insert after the bulk one, and a tombstone.
        index.add("extra", &queries[..dim], json!(7)).unwrap();
        index.remove("5").unwrap();
        for k in [0, 1, 10, 57] {
            let batch = index.search_batch(queries.chunks_exact(dim), k).unwrap();
            let filtered = index.search_batch_filtered(queries.chunks_exact(dim), k, odd).unwrap();
            assert_eq!((batch.len(), filtered.len()), (61, 61));
            for (q, query) in queries.chunks_exact(dim).enumerate() {
                assert_close(&batch[q], &index.search(query, k).unwrap());
                assert_close(&filtered[q], &index.search_filtered(query, k, odd).unwrap());
                if strategy == Strategy::Exact {
                    assert_same(&batch[q], &reference(&index, query, k, |_, _| true));
                    assert_same(&filtered[q], &reference(&index, query, k, odd));
                }
            }
        }
    }
    let index = Index::new(config(dim, Strategy::Exact)).unwrap();
    assert_eq!(index.search_batch(queries.chunks_exact(dim), 3).unwrap(), vec![Vec::new(); 61]);
    assert!(index.search_batch(Vec::<Vec<f32>>::new(), 3).unwrap().is_empty());
    // One bad query fails the whole batch with the usual typed error.
    let bad = [vec![1.0; dim], vec![0.0; dim]];
    assert!(matches!(index.search_batch(&bad, 3), Err(Error::ZeroVector)));
    assert!(matches!(index.search_batch([&[1.0; 3][..]], 3), Err(Error::DimensionMismatch { .. })));
}

/// recall@10 of HNSW against exact search on a fixed-seed clustered set.
fn recall_at_10(index: &Index, queries: &[f32], dim: usize) -> f64 {
    let mut hits = 0;
    for q in queries.chunks_exact(dim) {
        let exact: HashSet<String> =
            index.search_with(q, 10, Strategy::Exact, None).unwrap().into_iter().map(|h| h.0).collect();
        let approx = index.search_with(q, 10, Strategy::Hnsw, None).unwrap();
        hits += approx.iter().filter(|h| exact.contains(&h.0)).count();
    }
    hits as f64 / (10 * queries.len() / dim) as f64
}

#[test]
fn hnsw_recall_at_10_is_at_least_095_on_clustered_data() {
    // 20 topics of ~1000 points: finding the right topic is easy, ranking inside one is not.
    let (n, dim, clusters) = (20_000, 64, 20);
    let data = clustered(n, dim, clusters, 1.0, 42, 43);
    let mut index = Index::new(config(dim, Strategy::Auto)).unwrap();
    index.add_batch(data.chunks_exact(dim).enumerate().map(|(i, v)| (i.to_string(), v, Value::Null))).unwrap();
    assert!(index.has_graph(), "Auto keeps a graph from 10k items");
    let queries = clustered(200, dim, clusters, 1.0, 42, 4242);
    let recall = recall_at_10(&index, &queries, dim);
    eprintln!("recall@10 = {recall:.4}");
    assert!(recall >= 0.95, "recall@10 = {recall}");
}

/// The HNSW walk ranks with int8 codes; what it returns must still be exact f32 inner products
/// (the same `dot` exact search uses), best first, at every `ef_search`.
#[test]
fn hnsw_scores_are_exact_dot_products() {
    let (n, dim, clusters) = (3_000, 96, 6);
    let data = clustered(n, dim, clusters, 1.0, 7, 8);
    let mut index = Index::new(config(dim, Strategy::Hnsw)).unwrap();
    index.add_batch(data.chunks_exact(dim).enumerate().map(|(i, v)| (i.to_string(), v, Value::Null))).unwrap();
    assert!(index.has_graph());
    let queries = clustered(20, dim, clusters, 1.0, 7, 9);
    for ef in [10, 64] {
        index.set_ef_search(ef).unwrap();
        for q in queries.chunks_exact(dim) {
            // The index's own normalisation (f64 norm, f64 division).
            let norm = q.iter().map(|x| *x as f64 * *x as f64).sum::<f64>().sqrt();
            let unit: Vec<f32> = q.iter().map(|x| (*x as f64 / norm) as f32).collect();
            let hits = index.search_with(q, 10, Strategy::Hnsw, None).unwrap();
            assert_eq!(hits.len(), 10);
            for (id, score) in &hits {
                let want = vector_index::dot(&unit, index.get(id).unwrap().vector);
                assert_eq!(score.to_bits(), want.to_bits(), "item {id}: {score} vs {want}");
            }
            assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        }
    }
}

#[test]
fn typed_errors_for_bad_input() {
    let mut index = Index::new(config(4, Strategy::Auto)).unwrap();
    assert!(matches!(
        index.add("a", &[1.0, 0.0], Value::Null),
        Err(Error::DimensionMismatch { expected: 4, found: 2 })
    ));
    assert!(matches!(
        index.add("a", &[1.0, f32::NAN, 0.0, 0.0], Value::Null),
        Err(Error::NonFinite { position: 1, .. })
    ));
    assert!(matches!(
        index.add("a", &[f32::INFINITY, 0.0, 0.0, 0.0], Value::Null),
        Err(Error::NonFinite { position: 0, .. })
    ));
    assert!(matches!(index.add("a", &[0.0; 4], Value::Null), Err(Error::ZeroVector)));
    assert!(matches!(index.add("", &[1.0; 4], Value::Null), Err(Error::InvalidId { .. })));
    assert!(matches!(index.add("a\nb", &[1.0; 4], Value::Null), Err(Error::InvalidId { .. })));
    assert!(matches!(index.remove("nope"), Err(Error::UnknownId(id)) if id == "nope"));
    assert!(matches!(index.get("nope"), Err(Error::UnknownId(_))));
    assert!(matches!(index.search(&[0.0; 4], 3), Err(Error::ZeroVector)));
    assert!(matches!(index.search(&[1.0; 3], 3), Err(Error::DimensionMismatch { .. })));
    assert!(matches!(Index::new(config(0, Strategy::Auto)), Err(Error::InvalidConfig(_))));
    // add_batch is all-or-nothing.
    let batch = vec![("x", vec![1.0, 0.0, 0.0, 0.0], Value::Null), ("y", vec![0.0; 4], Value::Null)];
    assert!(index.add_batch(batch).is_err());
    assert!(index.is_empty());
}

#[test]
fn add_get_replace_remove() {
    let mut index = Index::new(config(3, Strategy::Auto)).unwrap();
    index.add("a", &[2.0, 0.0, 0.0], json!({"n": 1})).unwrap();
    index.add("b", &[0.0, 1.0, 0.0], json!({"n": 2})).unwrap();
    let a = index.get("a").unwrap();
    assert_eq!(a.vector, &[1.0, 0.0, 0.0], "stored vectors are normalised");
    assert_eq!(a.metadata, &json!({"n": 1}));
    index.add("a", &[0.0, 0.0, 5.0], json!({"n": 3})).unwrap();
    assert_eq!(index.len(), 2);
    assert_eq!(index.get("a").unwrap().metadata, &json!({"n": 3}));
    let hits = index.search(&[1.0, 0.0, 0.0], 5).unwrap();
    assert_eq!(hits.iter().filter(|h| h.0 == "a").count(), 1, "a replaced item appears once");
    assert!(hits.iter().all(|h| h.1 < 0.5), "the old vector of `a` is gone: {hits:?}");
    index.remove("a").unwrap();
    assert!(!index.contains("a"));
    assert_eq!(index.search(&[0.0, 0.0, 1.0], 5).unwrap().iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["b"]);
    assert!(matches!(index.remove("a"), Err(Error::UnknownId(_))));
    index.add("a", &[0.0, 0.0, 1.0], json!(null)).unwrap();
    assert_eq!(index.search(&[0.0, 0.0, 1.0], 1).unwrap()[0].0, "a");
}

/// Removals and replacements, of bulk-inserted and singly inserted items, are never returned,
/// and results stay complete even when tombstones crowd the query's neighbourhood.
#[test]
fn removed_items_never_come_back_through_the_graph() {
    let dim = 32;
    let mut index = clustered_index(3000, dim, Strategy::Hnsw, 3);
    assert!(index.has_graph());
    let mut config = index.config().clone();
    config.auto_rebuild = false;
    let mut index = {
        // Same items, compaction disabled, so tombstones stay in the graph.
        let mut fresh = Index::new(config).unwrap();
        fresh.add_batch(index.iter().map(|i| (i.id.to_string(), i.vector.to_vec(), i.metadata.clone()))).unwrap();
        fresh.rebuild();
        index = fresh;
        index
    };
    let query = index.get("item-0").unwrap().vector.to_vec();
    let near: Vec<String> =
        index.search_with(&query, 200, Strategy::Exact, None).unwrap().into_iter().map(|h| h.0).collect();
    for id in &near[..150] {
        index.remove(id).unwrap(); // most of the query's neighbourhood
    }
    let extra = clustered(100, dim, 60, 1.0, 3, 99);
    index.add_batch(extra.chunks_exact(dim).enumerate().map(|(i, v)| (format!("new-{i}"), v, json!(i)))).unwrap();
    index.remove("new-0").unwrap(); // a tombstone among the single inserts
    index.add("item-1", &query, json!("replaced")).unwrap(); // replacement: a tombstone plus an insert
    assert!(index.has_graph() && !index.needs_rebuild());
    for strategy in [Strategy::Hnsw, Strategy::Exact] {
        let hits = index.search_with(&query, 60, strategy, None).unwrap();
        assert_eq!(hits.len(), 60);
        assert_eq!(hits[0].0, "item-1");
        for (id, _) in &hits {
            assert!(!near[..150].contains(id) || id == "item-1", "{strategy:?} returned removed {id}");
            assert_ne!(id, "new-0");
        }
    }
    let exact = index.search_with(&query, 10, Strategy::Exact, None).unwrap();
    assert_eq!(
        index.search_with(&query, 10, Strategy::Hnsw, None).unwrap(),
        exact,
        "fallback keeps results exact here"
    );
    // A selective filter falls back to an exact scan and still finds everything that matches.
    let only = |id: &str, _: &Value| id.ends_with("7") && id.starts_with("item-");
    let filtered = index.search_filtered(&query, 1000, only).unwrap();
    assert_eq!(filtered.len(), index.iter().filter(|i| only(i.id, i.metadata)).count());
    index.rebuild();
    assert_eq!(index.search_with(&query, 10, Strategy::Exact, None).unwrap(), exact);
}

#[test]
fn single_adds_go_into_the_graph_without_a_rebuild() {
    let dim = 16;
    let mut index = clustered_index(2000, dim, Strategy::Hnsw, 5);
    let more = clustered(1100, dim, 40, 1.0, 5, 77);
    for (i, v) in more.chunks_exact(dim).enumerate() {
        index.add(format!("more-{i}"), v, Value::Null).unwrap();
        assert!(!index.needs_rebuild());
    }
    assert_eq!(index.len(), 3100);
    let q = index.get("more-1099").unwrap().vector.to_vec();
    assert_eq!(index.search(&q, 1).unwrap()[0].0, "more-1099");
}
