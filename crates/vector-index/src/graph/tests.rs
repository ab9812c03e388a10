use super::*;

fn unit_rows(n: usize, dim: usize) -> Matrix {
    Matrix::from_vec(dim, crate::synthetic::clustered(n, dim, (n / 50).max(2), 1.0, 3, 4))
}

fn exact_top(rows: &Matrix, q: &[f32], k: usize) -> Vec<u32> {
    let mut all: Vec<(u32, f32)> = (0..rows.rows()).map(|i| (i as u32, dot(q, rows.row(i)))).collect();
    all.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
    all.into_iter().take(k).map(|x| x.0).collect()
}

#[test]
fn every_node_finds_itself_and_lists_respect_levels() {
    let rows = unit_rows(600, 24);
    let graph = Graph::build(&rows, HnswParams::default());
    assert_eq!(graph.len(), 600);
    for i in 0..600 {
        let found = graph.search(&rows, rows.row(i), |_| true, usize::MAX).unwrap();
        assert_eq!(found[0].0 as usize, i, "node {i} is reachable");
        assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        for layer in 0..=graph.levels[i] as usize {
            assert!(
                used(graph.slots(i as u32, layer))
                    .all(|l| graph.levels[l as usize] as usize >= layer && l as usize != i)
            );
        }
    }
}

#[test]
fn serial_and_single_inserts_match_brute_force() {
    let rows = unit_rows(1500, 32);
    // Half in bulk, then one at a time (the `add` path).
    let mut graph = Graph::build(&Matrix::from_vec(32, rows.block()[..750 * 32].to_vec()), HnswParams::default());
    for i in 751..=1500 {
        graph.extend(&Matrix::from_vec(32, rows.block()[..i * 32].to_vec()));
    }
    let queries = crate::synthetic::clustered(100, 32, 30, 1.0, 3, 9);
    let mut hits = 0;
    for q in queries.chunks_exact(32) {
        let truth = exact_top(&rows, q, 10);
        let got = graph.search(&rows, q, |_| true, usize::MAX).unwrap();
        hits += got.iter().take(10).filter(|g| truth.contains(&g.0)).count();
    }
    assert!(hits as f64 / 1000.0 >= 0.98, "recall@10 {}", hits as f64 / 1000.0);
}

#[test]
fn a_selective_filter_is_applied_in_the_walk_and_a_budget_stops_it() {
    let rows = unit_rows(1000, 16);
    let graph = Graph::build(&rows, HnswParams::default());
    let q = rows.row(5);
    let found = graph.search(&rows, q, |n| n % 3 == 0, usize::MAX).unwrap();
    assert_eq!(found.len(), 64, "the beam fills with accepted nodes only");
    assert!(found.iter().all(|(n, _)| n % 3 == 0));
    assert!(graph.search(&rows, q, |n| n == 999, 200).is_none(), "a tiny budget runs out");
}

#[test]
fn encode_decode_keeps_search_results_and_hostile_graphs_are_refused() {
    let rows = unit_rows(300, 16);
    let graph = Graph::build(&rows, HnswParams::default());
    let bytes = graph.encode();
    let back = Graph::decode(&bytes, &rows, HnswParams::default(), None).unwrap();
    assert_eq!(back.encode(), bytes);
    for i in [0, 7, 299] {
        assert_eq!(
            graph.search(&rows, rows.row(i), |_| true, usize::MAX),
            back.search(&rows, rows.row(i), |_| true, usize::MAX)
        );
    }
    assert!(Graph::decode(&bytes[..bytes.len() - 1], &rows, HnswParams::default(), None).is_err());
    let fewer = Matrix::from_vec(16, rows.block()[..299 * 16].to_vec());
    assert!(Graph::decode(&bytes, &fewer, HnswParams::default(), None).is_err());
    let zero_start = 4 + 8 + 8 + 300;
    let mut bad_link = bytes.clone();
    bad_link[zero_start..zero_start + 4].copy_from_slice(&1000u32.to_le_bytes());
    assert!(Graph::decode(&bad_link, &rows, HnswParams::default(), None).err().unwrap().contains("not on layer"));
    // A layer-1 link to a node that is only on layer 0 would let a walk index past its slots.
    let low = (0..300u32).find(|n| graph.levels[*n as usize] == 0).unwrap();
    let mut node_with_upper = zero_start + 4 * 300 * 2 * M;
    let high = (0..300).find(|n| graph.levels[*n] > 0).unwrap();
    node_with_upper += 4 * graph.levels[..high].iter().map(|l| *l as usize * M).sum::<usize>();
    let mut bad_level = bytes.clone();
    bad_level[node_with_upper..node_with_upper + 4].copy_from_slice(&low.to_le_bytes());
    assert!(Graph::decode(&bad_level, &rows, HnswParams::default(), None).is_err());
    let mut bad_entry = bytes.clone();
    bad_entry[12..20].copy_from_slice(&u64::from(low).to_le_bytes());
    assert!(Graph::decode(&bad_entry, &rows, HnswParams::default(), None).is_err());
}

#[test]
fn levels_follow_the_geometric_law() {
    let upper = (0..100_000u32).filter(|n| insert::level_of(1, *n) > 0).count();
    assert!((2500..3800).contains(&upper), "about 1/32 of nodes above layer 0: {upper}");
}

/// Nodes no layer-0 path from the entry point reaches: a breadth-first search written here,
/// apart from `repair.rs`'s, so the repair is checked by code it does not share.
fn unreachable_by_bfs(graph: &Graph) -> Vec<u32> {
    let mut seen = vec![false; graph.len()];
    let mut queue = std::collections::VecDeque::from([graph.entry]);
    seen[graph.entry as usize] = true;
    while let Some(node) = queue.pop_front() {
        for slot in graph.slots(node, 0) {
            let next = slot.load(Relaxed);
            if next != INVALID && !seen[next as usize] {
                seen[next as usize] = true;
                queue.push_back(next);
            }
        }
    }
    (0..graph.len() as u32).filter(|n| !seen[*n as usize]).collect()
}

#[test]
fn a_parallel_bulk_insert_leaves_every_node_reachable() {
    let rows = unit_rows(4000, 32);
    // 1,024 nodes serially, then 2,976 in parallel, then a second parallel batch.
    let mut graph = Graph::build(&Matrix::from_vec(32, rows.block()[..3000 * 32].to_vec()), HnswParams::default());
    assert_eq!(unreachable_by_bfs(&graph), Vec::<u32>::new());
    graph.extend(&rows);
    assert_eq!(unreachable_by_bfs(&graph), Vec::<u32>::new());
    assert!(graph.reachable().iter().all(|r| *r));
}

#[test]
fn the_repair_relinks_nodes_whose_in_links_were_cut() {
    let rows = unit_rows(1500, 16);
    let graph = Graph::build(&rows, HnswParams::default());
    // Cut every layer-0 in-link of a few nodes (and so, maybe, of nodes behind them), as
    // pruning or an insert race can: each list is rewritten without them.
    let cut: Vec<u32> = [3u32, 700, 701, 1499].into_iter().filter(|n| *n != graph.entry).collect();
    for node in 0..graph.len() as u32 {
        let kept: Vec<u32> = used(graph.slots(node, 0)).filter(|l| !cut.contains(l)).collect();
        insert::write(graph.slots(node, 0), &kept);
    }
    let lost = unreachable_by_bfs(&graph);
    assert!(cut.iter().all(|c| lost.contains(c)), "the cut nodes are unreachable: {lost:?}");
    assert!(graph.repair(&rows) >= cut.len());
    assert_eq!(unreachable_by_bfs(&graph), Vec::<u32>::new());
    for &node in &cut {
        let found = graph.search(&rows, rows.row(node as usize), |_| true, usize::MAX).unwrap();
        assert_eq!(found[0].0, node, "node {node} is found by its own vector again");
    }
    assert_eq!(graph.repair(&rows), 0, "nothing left to repair");
}

/// The repair's cost next to the build it follows: `cargo test --release -p vector-index --lib
/// -- --ignored --nocapture repair_cost` (20k x 512 by default; `REPAIR_N`, `REPAIR_DIM`).
#[test]
#[ignore = "a measurement, not a check; see benches/index/README.md"]
fn repair_cost() {
    let var = |name: &str, default: usize| std::env::var(name).map_or(default, |v| v.parse().unwrap());
    let (n, dim) = (var("REPAIR_N", 20_000), var("REPAIR_DIM", 512));
    let rows = Matrix::from_vec(dim, crate::synthetic::clustered(n, dim, (n / 1000).max(1), 1.0, 7, 1));
    let mut graph = Graph::new(dim, HnswParams::default());
    let t = std::time::Instant::now();
    assert!(graph.insert_rows(&rows), "the bulk insert went parallel");
    let build = t.elapsed().as_secs_f64();
    let lost = unreachable_by_bfs(&graph).len();
    let t = std::time::Instant::now();
    let relinked = graph.repair(&rows);
    let repair = t.elapsed().as_secs_f64();
    assert_eq!(unreachable_by_bfs(&graph), Vec::<u32>::new());
    let t = std::time::Instant::now();
    let _ = graph.reachable();
    let bfs = t.elapsed().as_secs_f64();
    println!(
        "{n} x {dim}: bulk insert {build:.2} s; {lost} nodes unreachable after it; repair {:.1} ms \
         ({relinked} re-linked; its BFS alone {:.1} ms) = {:.3}% of the build",
        1e3 * repair,
        1e3 * bfs,
        100.0 * repair / build
    );
}
