//! The live graph against brute force: inserts (bulk and one at a time), deletes, compaction
//! and filtered search. Brute force is `Strategy::Exact` (itself checked against a plain loop
//! in `search.rs`).

mod common;

use std::collections::HashSet;

use common::config;
use serde_json::{Value, json};
use vector_index::synthetic::clustered;
use vector_index::{Index, Predicate, Strategy};

const DIM: usize = 32;

/// 2,000 items in one `add_batch` (the parallel bulk insert) plus 1,000 single `add`s, all
/// in the graph; compaction off so tombstones stay in it. Metadata `{"i": i}`.
fn grown_index() -> Index {
    let data = clustered(3000, DIM, 60, 1.0, 21, 22);
    let mut config = config(DIM, Strategy::Hnsw);
    config.auto_rebuild = false;
    let mut index = Index::new(config).unwrap();
    let item = |i: usize| (format!("item-{i}"), data[i * DIM..(i + 1) * DIM].to_vec(), json!({"i": i}));
    index.add_batch((0..2000).map(item)).unwrap();
    index.rebuild(); // the first graph (auto_rebuild is off)
    assert!(index.has_graph());
    for i in 2000..3000 {
        let (id, v, m) = item(i);
        index.add(id, &v, m).unwrap();
    }
    index
}

fn queries() -> Vec<f32> {
    clustered(200, DIM, 60, 1.0, 21, 23)
}

/// recall@10 of the graph against exact search, over `queries`, among items `keep` admits.
fn recall(index: &Index, keep: Option<&Predicate<'_>>) -> f64 {
    let (mut hits, mut want) = (0, 0);
    for q in queries().chunks_exact(DIM) {
        let truth = index.search_with(q, 10, Strategy::Exact, keep).unwrap();
        let got = index.search_with(q, 10, Strategy::Hnsw, keep).unwrap();
        assert_eq!(got.len(), truth.len(), "k results whenever k items match");
        let truth: HashSet<_> = truth.into_iter().map(|h| h.0).collect();
        hits += got.iter().filter(|h| truth.contains(&h.0)).count();
        want += truth.len();
    }
    hits as f64 / want.max(1) as f64
}

#[test]
fn inserts_and_ten_percent_deletes_keep_recall_and_membership_exact() {
    let mut index = grown_index();
    assert_eq!(index.len(), 3000);
    let r = recall(&index, None);
    assert!(r >= 0.98, "recall@10 after inserts {r}");
    // Every inserted item is found first by its own vector: the parallel bulk insert ends with
    // a repair that re-links nodes no layer-0 path reached (checked against a BFS of its own in
    // `graph/tests.rs`); before it, its link race left about 1 in 3,000 unreachable here.
    let lost: Vec<&str> =
        index.iter().filter(|item| index.search(item.vector, 1).unwrap()[0].0 != item.id).map(|item| item.id).collect();
    assert!(lost.is_empty(), "items not found first by their own vector: {lost:?}");
    // 10% deletes, from the bulk part and the single inserts alike.
    let removed: HashSet<String> = (0..3000).step_by(10).map(|i| format!("item-{i}")).collect();
    for id in &removed {
        index.remove(id).unwrap();
    }
    assert!(index.has_graph() && !index.needs_rebuild(), "the tombstones stay in the graph");
    let r = recall(&index, None);
    assert!(r >= 0.98, "recall@10 with 10% tombstones {r}");
    for q in queries().chunks_exact(DIM) {
        for (id, _) in index.search(q, 50).unwrap() {
            assert!(!removed.contains(&id), "removed {id} returned");
        }
    }
    // A removed item's own vector finds something else; a live one still finds itself.
    let v = clustered(3000, DIM, 60, 1.0, 21, 22);
    assert_ne!(index.search(&v[..DIM], 1).unwrap()[0].0, "item-0");
    assert_eq!(index.search(&v[DIM..2 * DIM], 1).unwrap()[0].0, "item-1");
    // Compaction drops the tombstones and keeps recall.
    index.rebuild();
    assert_eq!(index.len(), 2700);
    let r = recall(&index, None);
    assert!(r >= 0.98, "recall@10 after compaction {r}");
    let before = index.search(&v[DIM..2 * DIM], 5).unwrap();
    index.rebuild();
    assert_eq!(index.search(&v[DIM..2 * DIM], 5).unwrap(), before, "a second compaction is a no-op");
}

#[test]
fn filtered_search_matches_a_brute_force_filter() {
    let mut index = grown_index();
    for i in (0..3000).step_by(13) {
        index.remove(&format!("item-{i}")).unwrap();
    }
    let i = |m: &Value| m["i"].as_u64().unwrap();
    // Half (filtered in the walk), a third (near the line between walk and scan at this size),
    // a tenth and 1 in 500 (too selective for a walk here: exact scan).
    let half = |_: &str, m: &Value| i(m) % 2 == 0;
    let third = |_: &str, m: &Value| i(m) % 3 == 1;
    let tenth = |_: &str, m: &Value| i(m) % 10 == 3;
    let rare = |_: &str, m: &Value| i(m) % 500 == 7;
    for (name, keep) in [("half", &half as &Predicate<'_>), ("third", &third), ("tenth", &tenth), ("rare", &rare)] {
        let r = recall(&index, Some(keep));
        assert!(r >= 0.98, "{name}: filtered recall@10 {r}");
        for q in queries().chunks_exact(DIM).take(20) {
            let got = index.search_filtered(q, 10, keep).unwrap();
            assert!(got.iter().all(|(id, _)| keep(id, index.get(id).unwrap().metadata)), "{name}: only matches");
        }
    }
    let q = &queries()[..DIM];
    let matches = index.iter().filter(|m| rare(m.id, m.metadata)).count();
    assert_eq!(index.search_filtered(q, 100, rare).unwrap().len(), matches, "everything that matches, no more");
    assert_eq!(
        index.search_filtered(q, 10, rare).unwrap(),
        index.search_with(q, 10, Strategy::Exact, Some(&rare)).unwrap()
    );
}

#[test]
fn replacing_an_item_moves_it_and_auto_compaction_runs_when_due() {
    let data = clustered(1200, DIM, 20, 1.0, 5, 6);
    let mut config = config(DIM, Strategy::Hnsw);
    config.rebuild_min_rows = 100;
    config.rebuild_fraction = 0.0;
    let mut index = Index::new(config).unwrap();
    index.add_batch(data.chunks_exact(DIM).enumerate().map(|(i, v)| (i.to_string(), v, Value::Null))).unwrap();
    assert!(index.has_graph(), "Hnsw builds its graph with the first add");
    index.add("0", &data[DIM..2 * DIM], json!("moved")).unwrap();
    let hits = index.search(&data[DIM..2 * DIM], 2).unwrap();
    let ids: HashSet<&str> = hits.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(ids, HashSet::from(["0", "1"]));
    for i in 100..=200 {
        index.remove(&i.to_string()).unwrap();
    }
    assert!(!index.needs_rebuild(), "101 removals + 1 replacement passed the threshold: compacted");
    assert_eq!(index.len(), 1099);
    assert_eq!(index.search(&data[300 * DIM..301 * DIM], 1).unwrap()[0].0, "300");
}
