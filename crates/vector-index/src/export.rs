//! Export to [Qdrant](https://qdrant.tech), for when one machine is no longer enough.
//!
//! # When to switch
//! This crate keeps a whole index in one process (see the crate docs' *Memory* section). At
//! d = 2048 an item costs about 10.5 KB loaded (8,192 f32 + 2,052 int8 codes + ~280 of graph
//! links, plus its id and metadata); [`Index::open`] keeps only the links, ids and metadata
//! resident, but a graph search reads about a thousand int8 code rows at random, so the codes
//! and links (about 2.3 KB per item) must stay in RAM for searches not to wait on the disk.
//! On a machine with 16 GB, 8 GB of it for the index:
//!
//! | d | loaded (per item) | items in 8 GB, loaded | opened, codes + links resident | items in 8 GB, opened |
//! |---|---|---|---|---|
//! | 512 | 2,048 + 516 + 280 = 2.8 KB | ~2.8 M | 796 B | ~10 M |
//! | 2048 | 8,192 + 2,052 + 280 = 10.5 KB | ~760 k | 2.3 KB | ~3.4 M |
//!
//! Two other limits come first in practice: every [`Index::save`] rewrites every file (10 GB
//! per million items at d = 2048, so a save takes minutes), and a bulk build grows a little
//! faster than linearly (`benches/index/README.md`: 100k x 2048 took 102 s on two shared cores
//! with `keep_pruned` off, about 5x that with the default graph), so a million items is a
//! build of an hour or more, and a compaction ([`Index::rebuild`]) costs as much. So: past about **a million items at d = 2048 (a few million at d = 512)**,
//! or as soon as you need more than one writer, replicas or search across machines, move the
//! vectors to a vector database. Qdrant is one that takes them as they are: the same cosine
//! scores, HNSW, payload filters (`metadata.app` here is a nested payload key), sharding and
//! replication.
//!
//! # Format
//! [`Index::export_qdrant`] writes JSON Lines: each line is the body of one
//! `PUT /collections/{name}/points` request (`{"points": [...]}`), at most `batch` points
//! each, so a script can stream the file line by line without holding it. A point is
//! `{"id": UUID, "vector": [f32; dim], "payload": {"id": original id, "metadata": ...}}`.
//! Qdrant point ids must be unsigned integers or UUIDs, so string ids map to UUIDs
//! ([`qdrant_point_id`]): the first 16 bytes of `sha256("vector-index:" + id)` with the
//! RFC 9562 version 8 (custom, hash-based) and variant bits set: deterministic, so an
//! export repeated after changes upserts the same points, and 122 random bits, so distinct
//! ids do not collide in practice. The original id stays in the payload. The collection is
//! created first with [`Index::qdrant_collection`]'s body (`PUT /collections/{name}`):
//!
//! ```sh
//! curl -X PUT localhost:6333/collections/screens -H 'Content-Type: application/json' \
//!      -d "$(cat collection.json)"
//! while read -r line; do
//!   curl -sf -X PUT 'localhost:6333/collections/screens/points?wait=true' \
//!        -H 'Content-Type: application/json' -d "$line" > /dev/null
//! done < points.jsonl
//! ```

use std::io::{self, Write};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Index;

impl Index {
    /// Writes every live item as Qdrant points (see the `export` module docs): JSON Lines, one
    /// `{"points": [...]}` upsert request body per line with at most `batch` points (at least
    /// one). Returns the number of points written. Vectors are the stored, L2-normalised ones.
    pub fn export_qdrant(&self, mut writer: impl Write, batch: usize) -> io::Result<usize> {
        let batch = batch.max(1);
        let mut points = Vec::with_capacity(batch.min(self.len()));
        let mut written = 0;
        let mut items = self.iter().peekable();
        while items.peek().is_some() {
            points.clear();
            for item in items.by_ref().take(batch) {
                points.push(json!({
                    "id": qdrant_point_id(item.id),
                    "vector": item.vector,
                    "payload": {"id": item.id, "metadata": item.metadata},
                }));
            }
            serde_json::to_writer(&mut writer, &json!({ "points": points }))?;
            writer.write_all(b"\n")?;
            written += points.len();
        }
        writer.flush()?;
        Ok(written)
    }

    /// The body of Qdrant's create-collection request for this index: vectors of
    /// `embedding_dim` floats compared by cosine similarity (the score this crate returns).
    pub fn qdrant_collection(&self) -> Value {
        json!({"vectors": {"size": self.embedding_dim(), "distance": "Cosine"}})
    }
}

/// The Qdrant point id (a UUID string) that [`Index::export_qdrant`] gives the item `id`.
pub fn qdrant_point_id(id: &str) -> String {
    let digest = Sha256::new().chain_update(b"vector-index:").chain_update(id.as_bytes()).finalize();
    let mut b: [u8; 16] = digest[..16].try_into().expect("sha256 has 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x80; // version 8: custom (RFC 9562, section 5.8)
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10: RFC 9562
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
