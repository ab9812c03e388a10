//! One component's decoded samples at its own (downsampled) resolution.

/// Samples of one component, rows `stride` apart; only the first `width` x `height` are real
/// (the rest is the padding of whole 8x8 blocks, never read by the upsamplers).
pub(super) struct Plane {
    /// Samples, `stride` per row, whole blocks.
    pub(super) data: Vec<u8>,
    /// Distance between rows.
    pub(super) stride: usize,
    /// Real samples per row (libjpeg's `downsampled_width`).
    pub(super) width: usize,
    /// Real rows (libjpeg's `downsampled_height`).
    pub(super) height: usize,
}

impl Plane {
    /// The real samples of row `y`.
    #[inline]
    pub(super) fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }
}
