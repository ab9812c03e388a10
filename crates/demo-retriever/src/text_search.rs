//! Text-only retrieval, the seed's fallback: TF-IDF cosine between the query's task and each
//! demo's goal, app name and domain. It needs no model, so it works where the multimodal model
//! cannot load (no device memory, no GPU, too little wasm memory) and on demos not embedded yet.
//!
//! The weights are scikit-learn's `TfidfVectorizer` defaults, which the seed's `TFIDFEmbedder`
//! uses: raw term counts times the smoothed idf `ln((1 + n) / (1 + df)) + 1`, each vector scaled
//! to unit length, so a score is a cosine in `0..=1` and the context bonuses (0.1 by default)
//! weigh as much against it as against an embedding cosine. Tokens are the lower-cased runs of
//! letters and digits (`mail.google.com` gives `mail`, `google`, `com`); no stemming and no stop
//! words, so the ranking is easy to predict from the text.

use std::collections::{BTreeMap, HashMap};

use crate::demo::Demo;
use crate::error::{Result, RetrieverError};
use crate::filter::Filter;
use crate::retriever::{DemoRetriever, Query, RetrievalResult};
use crate::score::{Context, Scored, bonus, rank};

/// The lower-cased runs of letters and digits of `text`.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_lowercase)
}

/// The text a demo is found by: its goal, app name and domain.
fn document(demo: &Demo) -> String {
    [Some(demo.goal.as_str()), demo.app_name.as_deref(), demo.domain.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A TF-IDF model over a set of documents: the idf of every term they contain.
#[derive(Debug, Clone, Default)]
pub struct TfIdf {
    idf: HashMap<String, f32>,
    documents: usize,
}

impl TfIdf {
    /// Fits the idf weights to `documents`.
    pub fn fit<'a>(documents: impl IntoIterator<Item = &'a str>) -> Self {
        let mut df: HashMap<String, usize> = HashMap::new();
        let mut n = 0;
        for doc in documents {
            n += 1;
            let mut seen: Vec<String> = tokens(doc).collect();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_default() += 1;
            }
        }
        let idf = df.into_iter().map(|(t, d)| (t, (((1 + n) as f64 / (1 + d) as f64).ln() + 1.0) as f32)).collect();
        Self { idf, documents: n }
    }

    /// How many documents the model was fitted to.
    pub fn documents(&self) -> usize {
        self.documents
    }

    /// The unit-length TF-IDF vector of `text`, sparse (term -> weight). Terms the fitted
    /// documents never contain get no weight, as in scikit-learn: they cannot match anything.
    pub fn vector(&self, text: &str) -> BTreeMap<String, f32> {
        let mut v: BTreeMap<String, f32> = BTreeMap::new();
        for t in tokens(text) {
            if let Some(idf) = self.idf.get(&t) {
                *v.entry(t).or_default() += idf;
            }
        }
        let norm = v.values().map(|w| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.values_mut().for_each(|w| *w /= norm);
        }
        v
    }
}

/// The cosine of two unit-length sparse vectors.
pub fn cosine(a: &BTreeMap<String, f32>, b: &BTreeMap<String, f32>) -> f32 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small.iter().filter_map(|(t, w)| large.get(t).map(|x| w * x)).sum()
}

impl DemoRetriever {
    /// The `top_k` demos best matching the query's task by TF-IDF (see the module docs), plus
    /// the same context bonuses and tie-break as [`DemoRetriever::retrieve`], among the demos
    /// the filters keep. Needs no model and no embeddings: demos added but not built count too.
    /// `embedding_score` holds the TF-IDF cosine. The query's screenshot, instruction and
    /// `rerank` are ignored; a query without task text is [`RetrieverError::TextQueryNeedsText`].
    pub fn retrieve_text(&self, query: &Query) -> Result<Vec<RetrievalResult>> {
        let Some(task) = query.task.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Err(RetrieverError::TextQueryNeedsText);
        };
        let documents: Vec<String> = self.demos.values().map(document).collect();
        let model = TfIdf::fit(documents.iter().map(String::as_str));
        let q = model.vector(task);
        let ctx = Context { app: query.app_context.as_deref(), domain: query.domain_context.as_deref() };
        let candidates = self
            .demos
            .values()
            .zip(&documents)
            .filter(|(d, _)| Filter::all_match(&query.filters, &d.summary()))
            .map(|(d, doc)| Scored {
                demo_id: d.demo_id.clone(),
                embedding_score: cosine(&q, &model.vector(doc)),
                bonus: bonus(ctx, d.app_name.as_deref(), d.domain.as_deref(), self.settings.bonuses),
                rerank_score: None,
            })
            .collect();
        Ok(self.results(rank(candidates, None), query.top_k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercased_alphanumeric_runs() {
        let t: Vec<String> = tokens("Turn OFF Night-Shift on mail.google.com!").collect();
        assert_eq!(t, ["turn", "off", "night", "shift", "on", "mail", "google", "com"]);
    }

    /// scikit-learn's numbers for the same corpus, computed by hand from its definition:
    /// docs "a b", "a c"; idf(a) = ln(3/3) + 1 = 1, idf(b) = idf(c) = ln(3/2) + 1.
    #[test]
    fn weights_follow_smoothed_idf_and_unit_length() {
        let model = TfIdf::fit(["a b", "a c"]);
        let v = model.vector("a b");
        let ib = (1.5f32).ln() + 1.0;
        let norm = (1.0 + ib * ib).sqrt();
        assert!((v["a"] - 1.0 / norm).abs() < 1e-6);
        assert!((v["b"] - ib / norm).abs() < 1e-6);
        assert!(!v.contains_key("c"));
        let other = model.vector("a c");
        assert!((cosine(&v, &other) - 1.0 / (norm * norm)).abs() < 1e-6);
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-6);
        assert!(model.vector("zzz").is_empty(), "unknown terms weigh nothing");
    }
}
