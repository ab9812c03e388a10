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
    /// Added when the query's app is contained in the demo's `app_name` (case-insensitive):
    /// see [`app_matches`].
    pub app: f32,
    /// Added when the query's domain is a run of whole labels of the demo's `domain`: see
    /// [`domain_matches`].
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

/// Whether the query's app context names this demo's app: the seed's rule, the context
/// contained in the app name, case-insensitively (`chrome` matches `Google Chrome`). A blank
/// context matches nothing.
pub fn app_matches(context: Option<&str>, app_name: Option<&str>) -> bool {
    matches!((context, app_name), (Some(c), Some(a)) if !c.trim().is_empty() && a.to_lowercase().contains(&c.trim().to_lowercase()))
}

/// Whether the query's domain context names this demo's domain. The seed's rule is substring
/// containment; we keep its intent (`google.com` matches `mail.google.com`) but on whole
/// labels, so `oogle.com` does not match `google.com` and `ail.google` does not match
/// `mail.google.com`: the context's labels must appear as a contiguous run of the domain's
/// labels. Both sides are compared as [`normalize_domain`] leaves them (lower case, no `www.`).
pub fn domain_matches(context: Option<&str>, domain: Option<&str>) -> bool {
    let (Some(c), Some(d)) = (context, domain) else { return false };
    let (c, d) = (normalize_domain(c), normalize_domain(d));
    if c.is_empty() || d.is_empty() {
        return false;
    }
    let (c, d): (Vec<&str>, Vec<&str>) = (c.split('.').collect(), d.split('.').collect());
    d.windows(c.len()).any(|run| run == c.as_slice())
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
        assert!(!app_matches(Some("  "), Some("Safari")));
        assert!(!app_matches(None, Some("Safari")));
        assert!(domain_matches(Some("WWW.github.com"), Some("github.com")));
        assert!(!domain_matches(Some("gitlab.com"), Some("github.com")));
        assert!(!domain_matches(Some(""), Some("github.com")));
        assert!(!domain_matches(Some("github.com"), Some("")));
        let b = bonus(
            Context { app: Some("Finder"), domain: Some("x.org") },
            Some("finder"),
            Some("x.org"),
            Bonuses::default(),
        );
        assert!((b - 0.2).abs() < 1e-7);
    }

    /// The seed's containment rules, each with the case the old exact-equality rule missed.
    #[test]
    fn app_context_is_contained_in_the_app_name() {
        assert!(app_matches(Some("chrome"), Some("Google Chrome")));
        assert!(app_matches(Some(" CHROME "), Some("Google Chrome Canary")));
        assert!(
            !app_matches(Some("Google Chrome"), Some("chrome")),
            "the context must be inside the app name, not around it"
        );
        assert!(!app_matches(Some("firefox"), Some("Google Chrome")));
    }

    #[test]
    fn domain_context_matches_whole_labels() {
        assert!(domain_matches(Some("google.com"), Some("mail.google.com")));
        assert!(domain_matches(Some("mail.google"), Some("mail.google.com")));
        assert!(domain_matches(Some("www.Google.com"), Some("docs.google.com")));
        assert!(!domain_matches(Some("oogle.com"), Some("google.com")), "a label cut in half is not a match");
        assert!(!domain_matches(Some("ail.google"), Some("mail.google.com")));
        assert!(!domain_matches(Some("mail.google.com"), Some("google.com")), "the context must be inside the domain");
        assert!(!domain_matches(Some("google.org"), Some("google.com")));
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
