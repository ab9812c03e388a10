//! The seed's scoring rule, as pure functions over scores and metadata.
//!
//! final score = embedding score (cosine) + app bonus + domain bonus, or, for candidates that
//! were reranked, rerank score + the same bonuses. Ties are broken by demo id so results
//! never depend on storage order.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::demo::normalize_domain;

/// Bonuses added when the query's context matches a demo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bonuses {
    /// Added when the query's app equals the demo's `app_name` (case-insensitive).
    pub app: f32,
    /// Added when the query's domain equals the demo's `domain` (`www.` stripped, case-insensitive).
    pub domain: f32,
}

impl Default for Bonuses {
    fn default() -> Self {
        Self { app: 0.1, domain: 0.1 }
    }
}

/// The context a query was asked in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The app the user is in.
    pub app: Option<&'a str>,
    /// The site the user is on.
    pub domain: Option<&'a str>,
}

/// Whether the query's app context names this demo's app.
pub fn app_matches(context: Option<&str>, app_name: Option<&str>) -> bool {
    matches!((context, app_name), (Some(c), Some(a)) if !c.trim().is_empty() && c.trim().to_lowercase() == a.trim().to_lowercase())
}

/// Whether the query's domain context names this demo's domain.
pub fn domain_matches(context: Option<&str>, domain: Option<&str>) -> bool {
    matches!((context, domain), (Some(c), Some(d)) if !c.trim().is_empty() && normalize_domain(c) == normalize_domain(d))
}

/// The total bonus a demo earns in a context.
pub fn bonus(context: Context<'_>, app_name: Option<&str>, domain: Option<&str>, bonuses: Bonuses) -> f32 {
    let mut b = 0.0;
    if app_matches(context.app, app_name) {
        b += bonuses.app;
    }
    if domain_matches(context.domain, domain) {
        b += bonuses.domain;
    }
    b
}

/// One candidate's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The candidate demo.
    pub demo_id: String,
    /// Cosine similarity of the query and demo embeddings.
    pub embedding_score: f32,
    /// The context bonuses the demo earned.
    pub bonus: f32,
    /// The reranker's probability that the demo answers the query, when it was reranked.
    pub rerank_score: Option<f32>,
}

impl Scored {
    /// The score results are ordered by.
    pub fn score(&self) -> f32 {
        self.rerank_score.unwrap_or(self.embedding_score) + self.bonus
    }
}

/// Best first: by score, then by demo id.
pub fn rank_order(a: &Scored, b: &Scored) -> Ordering {
    b.score().total_cmp(&a.score()).then_with(|| a.demo_id.cmp(&b.demo_id))
}

/// Sorts candidates best first; with `rerank_scores`, the first `rerank_scores.len()`
/// candidates (by embedding score + bonus) take them and are sorted again among themselves,
/// ahead of the rest, as the seed does.
pub fn rank(mut candidates: Vec<Scored>, rerank_scores: Option<&[f32]>) -> Vec<Scored> {
    candidates.sort_by(rank_order);
    if let Some(scores) = rerank_scores {
        let n = scores.len().min(candidates.len());
        for (c, s) in candidates.iter_mut().zip(scores) {
            c.rerank_score = Some(*s);
        }
        candidates[..n].sort_by(rank_order);
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: &str, e: f32, b: f32) -> Scored {
        Scored { demo_id: id.into(), embedding_score: e, bonus: b, rerank_score: None }
    }

    #[test]
    fn context_matching_ignores_case_and_www() {
        assert!(app_matches(Some("safari"), Some("Safari ")));
        assert!(!app_matches(Some(""), Some("")));
        assert!(!app_matches(None, Some("Safari")));
        assert!(domain_matches(Some("WWW.github.com"), Some("github.com")));
        assert!(!domain_matches(Some("gitlab.com"), Some("github.com")));
        let b = bonus(
            Context { app: Some("Finder"), domain: Some("x.org") },
            Some("finder"),
            Some("x.org"),
            Bonuses::default(),
        );
        assert!((b - 0.2).abs() < 1e-7);
    }

    #[test]
    fn ranking_uses_bonuses_then_ids() {
        let ranked = rank(vec![s("b", 0.5, 0.0), s("a", 0.5, 0.0), s("c", 0.45, 0.1)], None);
        let ids: Vec<&str> = ranked.iter().map(|r| r.demo_id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b"]);
    }

    #[test]
    fn reranked_candidates_are_resorted_ahead_of_the_rest() {
        let ranked = rank(vec![s("c", 0.95, 0.0), s("a", 0.9, 0.0), s("b", 0.7, 0.1)], Some(&[0.2, 0.6]));
        // c and a are the top two; reranked, a (0.6) passes c (0.2); b keeps its embedding score.
        let got: Vec<(&str, Option<f32>)> = ranked.iter().map(|r| (r.demo_id.as_str(), r.rerank_score)).collect();
        assert_eq!(got, [("a", Some(0.6)), ("c", Some(0.2)), ("b", None)]);
        assert!((ranked[2].score() - 0.8).abs() < 1e-6);
    }
}
