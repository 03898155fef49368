//! Guest stdout and stderr, forwarded to `tracing` line by line.
//!
//! Each complete line a module writes becomes one event with target
//! `wasmgraph::module::stdout` (INFO) or `wasmgraph::module::stderr` (WARN) and
//! the field `operation`. The instance's log budget applies (limits.rs): a
//! line longer than the line size is cut (`… [N bytes cut]`; the rest of it is
//! never buffered) and lines beyond the rate are dropped, both counted. A
//! partial last line is emitted when the instance is dropped.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::limits::{Cut, LogBudget};

#[derive(Clone, Copy, Debug)]
pub(crate) enum Which {
    Stdout,
    Stderr,
}

/// A line-buffering writer that emits tracing events.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    inner: Arc<Mutex<LineBuffer>>,
}

struct LineBuffer {
    which: Which,
    operation: Arc<str>,
    buf: Vec<u8>,
    /// Bytes of the current line beyond the line size, not kept.
    overflow: usize,
    recent: Option<RecentLines>,
    budget: Arc<LogBudget>,
}

/// The last lines a module wrote to stderr during the current call, so that a
/// trap's error can say what the module printed (a Rust panic message, a Python
/// traceback). Cleared at the start of every call.
#[derive(Clone, Default)]
pub(crate) struct RecentLines(Arc<Mutex<Vec<String>>>);

const RECENT_MAX_BYTES: usize = 8 * 1024;

impl RecentLines {
    pub(crate) fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The lines so far, joined with newlines.
    pub(crate) fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
    }

    fn push(&self, line: &str) {
        let mut lines = self.0.lock().unwrap_or_else(|p| p.into_inner());
        lines.push(line.to_string());
        // Keep the newest lines within the byte budget.
        let mut total: usize = lines.iter().map(|l| l.len() + 1).sum();
        while total > RECENT_MAX_BYTES && lines.len() > 1 {
            total -= lines.remove(0).len() + 1;
        }
    }
}

impl LineBuffer {
    /// Emits the current line (cut if it overflowed), within the rate.
    fn finish_line(&mut self) {
        let overflow = std::mem::take(&mut self.overflow);
        if overflow > 0 {
            self.budget.count_cut(self.buf.len() + overflow);
        }
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end_matches('\r');
        if let Some(recent) = &self.recent {
            recent.push(text);
        }
        if self.budget.admit() {
            let text = Cut(text, overflow);
            match self.which {
                Which::Stdout => {
                    tracing::info!(target: "wasmgraph::module::stdout", operation = %self.operation, "{text}")
                }
                Which::Stderr => {
                    tracing::warn!(target: "wasmgraph::module::stderr", operation = %self.operation, "{text}")
                }
            }
        }
        self.buf.clear();
    }

    /// Adds `chunk` to the current line, keeping at most the line size.
    fn take(&mut self, chunk: &[u8]) {
        let room = self.budget.line_bytes().saturating_sub(self.buf.len());
        let n = chunk.len().min(room);
        self.buf.extend_from_slice(&chunk[..n]);
        self.overflow += chunk.len() - n;
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            self.take(&rest[..pos]);
            self.finish_line();
            rest = &rest[pos + 1..];
        }
        self.take(rest);
    }

    fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.overflow > 0
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if self.has_partial() {
            self.finish_line();
        }
    }
}

impl GuestOutput {
    pub(crate) fn new(which: Which, operation: Arc<str>, budget: Arc<LogBudget>, recent: Option<RecentLines>) -> Self {
        let buffer = LineBuffer { which, operation, buf: Vec::new(), overflow: 0, recent, budget };
        GuestOutput { inner: Arc::new(Mutex::new(buffer)) }
    }

    /// Emit a partial last line now (a module that traps mid-line).
    pub(crate) fn flush_partial(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.has_partial() {
            inner.finish_line();
        }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).write(bytes);
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
