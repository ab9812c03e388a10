//! The checks [`Index::open`] defers because they read the mapped files whole.

use crate::Index;
use crate::error::{DataFile, LoadError, Problem, Result};
use crate::persist::{check_rows, check_sha256};

impl Index {
    /// The checks [`Index::open`] skipped, so that an opened index is as verified as a loaded
    /// one: the sha256 of every file it mapped (against `index.json`), every vector finite and
    /// non-zero, and the int8 codes equal to what quantising the rows gives. Reads every mapped
    /// page (about as long as [`Index::load`]). `Ok` at once for an index that was loaded,
    /// built or received as bytes: those were checked as they arrived.
    ///
    /// An error names the file, as a load's would; the index should then be dropped.
    pub fn verify(&self) -> Result<()> {
        for unverified in &self.unverified {
            check_sha256(unverified.file, &unverified.map, &unverified.sha256)?;
        }
        // Keyed on what `open` skipped, not on what is mapped now: an `add` since may have
        // copied the mapped rows and codes into memory unchecked.
        let skipped = |file: DataFile| self.unverified.iter().any(|u| u.file == file);
        if skipped(DataFile::Embeddings) {
            check_rows(self.rows.block(), self.embedding_dim(), DataFile::Embeddings)?;
        }
        if let Some(graph) = self.graph.as_ref().filter(|_| skipped(DataFile::Codes)) {
            let codes = graph.codes();
            if let Some(row) = (0..self.rows.rows()).find(|&r| !codes.matches(r, self.rows.row(r))) {
                let why = format!("the codes of row {row} are not those of its vector");
                return Err(LoadError::new(DataFile::Codes, Problem::Invalid(why)).into());
            }
        }
        Ok(())
    }
}
