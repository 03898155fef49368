//! The mock host's `buffer`: bytes held in memory.

/// In native builds, the WIT `buffer` resource: bytes the (mock) host holds.
/// Make one with [`Buffer::new`]; [`Buffer::read`] returns a copy of the bytes,
/// as the real resource does.
///
/// Like the real resource it is not `Clone`, so code that compiles natively
/// also compiles for wasm32.
#[derive(Debug, PartialEq, Eq)]
pub struct Buffer {
    bytes: Vec<u8>,
}

impl Buffer {
    /// A buffer holding `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Buffer { bytes: bytes.into() }
    }

    /// Copy the buffer's bytes (WIT `buffer.read`).
    pub fn read(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}
