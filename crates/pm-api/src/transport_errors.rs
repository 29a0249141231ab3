//! The few errors actix-http's h1 dispatcher answers itself, before a request
//! exists for the application (and its `ErrorHandlers`) to see: 400 for a request
//! line or header it cannot parse, 408 for a head that does not arrive within
//! `server.head_timeout_secs`, 431 for a head over its 128 KiB buffer. It writes
//! them as a bare head with `content-length: 0` and then closes the connection.
//!
//! [`ProblemWriter`] wraps the connection's socket and, on the way out, rewrites
//! exactly those heads into the same `application/problem+json` answers the
//! application gives (codes from [`crate::problem`]). Everything else passes
//! through untouched. What it matches (see `parse_error_head`):
//!
//! - the **last** bytes of a write are a complete response head, with nothing after
//!   it (the dispatcher closes the connection after such an error, so it is
//!   always the last thing written; earlier pipelined responses may precede it in
//!   the same write);
//! - its status is 400, 408 or 431, it has `content-length: 0` and neither
//!   `content-type` nor `transfer-encoding`.
//!
//! The application never sends such a head: every 4xx/5xx it produces is
//! problem+json with a non-empty body (`problem::problem_fallback` converts any
//! that is not), and its bodies are JSON (no raw CR LF) or fixed Swagger UI assets.

use crate::problem::ApiError;
use actix_web::http::StatusCode;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest head considered: the dispatcher's error heads are under 150 bytes.
const MAX_ERROR_HEAD: usize = 512;

/// A socket whose writes turn the dispatcher's empty-bodied error heads into
/// problem+json responses.
#[derive(Debug)]
pub struct ProblemWriter<T> {
    inner: T,
    /// The rewritten response still to be written, and how much of it was.
    pending: Vec<u8>,
    written: usize,
}

impl<T> ProblemWriter<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncWrite + Unpin> ProblemWriter<T> {
    /// Writes what remains of a rewritten response; ready once nothing is pending.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        if !self.pending.is_empty() {
            self.pending = Vec::new();
            self.written = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemWriter<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemWriter<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        match find_error_head(buf) {
            None => Pin::new(&mut this.inner).poll_write(cx, buf),
            // Earlier responses first, as they are; the head comes back in the
            // caller's next write (it retries with the unwritten rest).
            Some((start, _)) if start > 0 => {
                Pin::new(&mut this.inner).poll_write(cx, &buf[..start])
            }
            Some((_, head)) => {
                this.pending = rewrite(&head);
                this.written = 0;
                // The whole head counts as consumed: what the socket does not take
                // now is written by later writes, flushes or the shutdown.
                if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(buf.len()))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// A dispatcher error head, parsed.
#[derive(Debug, PartialEq, Eq)]
struct ErrorHead<'a> {
    status: StatusCode,
    /// `HTTP/1.1 400 Bad Request`, without CR LF.
    status_line: &'a [u8],
    /// Header lines other than `content-length`, without CR LF.
    headers: Vec<&'a [u8]>,
}

/// Where an error head that ends `buf` starts, with the head.
fn find_error_head(buf: &[u8]) -> Option<(usize, ErrorHead<'_>)> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let window = buf.len().saturating_sub(MAX_ERROR_HEAD);
    // Right to left: the head is the last response in the write.
    (window..buf.len())
        .rev()
        .filter(|&i| buf[i..].starts_with(b"HTTP/1."))
        .find_map(|i| parse_error_head(&buf[i..]).map(|head| (i, head)))
}

/// `bytes` is exactly one response head (up to and including the blank line) with
/// a status the dispatcher answers itself, `content-length: 0` and no
/// `content-type` or `transfer-encoding`.
fn parse_error_head(bytes: &[u8]) -> Option<ErrorHead<'_>> {
    let head = bytes.strip_suffix(b"\r\n\r\n")?;
    let mut lines = split_crlf(head);
    let status_line = lines.next()?;
    let rest = status_line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix(b"HTTP/1.0 "))?;
    let (code, reason) = (rest.get(..3)?, rest.get(3..)?);
    let status = match code {
        b"400" => StatusCode::BAD_REQUEST,
        b"408" => StatusCode::REQUEST_TIMEOUT,
        b"431" => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    if !(reason.is_empty() || reason.starts_with(b" ")) || reason.iter().any(u8::is_ascii_control) {
        return None;
    }
    let mut headers = Vec::new();
    let mut empty_length = 0;
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.is_empty()
            || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
            || line.iter().any(|&b| b.is_ascii_control() && b != b'\t')
        {
            return None;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            if value != b"0" {
                return None;
            }
            empty_length += 1;
        } else if name.eq_ignore_ascii_case(b"content-type")
            || name.eq_ignore_ascii_case(b"transfer-encoding")
        {
            return None;
        } else {
            headers.push(line);
        }
    }
    (empty_length == 1).then_some(ErrorHead {
        status,
        status_line,
        headers,
    })
}

fn split_crlf(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                rest = Some(&current[i + 2..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// The problem document for a status the dispatcher answers itself.
pub fn transport_problem(status: StatusCode) -> Vec<u8> {
    let mut problem = ApiError::Http(status).problem();
    problem.detail = match status.as_u16() {
        400 => "The request line or a header could not be parsed; the connection is closed.",
        408 => {
            "The request head (line and headers) did not arrive within the server's head timeout; the connection is closed."
        }
        431 => {
            "The request head is larger than the server accepts (128 KiB, 96 headers); the connection is closed."
        }
        _ => "The request was rejected; the connection is closed.",
    }
    .to_string();
    serde_json::to_vec(&problem).unwrap_or_default()
}

/// The same head with the problem as its body: `content-type` and the body's
/// length added, the dispatcher's other headers (`connection: close`, `date`) kept.
fn rewrite(head: &ErrorHead<'_>) -> Vec<u8> {
    let body = transport_problem(head.status);
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(head.status_line);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(b"content-type: application/problem+json\r\n");
    let mut has_connection = false;
    for line in &head.headers {
        has_connection |= line
            .get(..11)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"connection:"));
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if !has_connection {
        // The dispatcher closes the connection after these errors anyway.
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::sync::{Arc, Mutex};

    const DATE: &str = "date: Tue, 03 Jun 2025 10:00:00 GMT\r\n";

    fn dispatcher_head(status: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n{DATE}\r\n")
            .into_bytes()
    }

    /// A socket that takes at most `chunk` bytes per write and says Pending
    /// every other call, recording what it was given.
    struct Socket {
        out: Arc<Mutex<Vec<u8>>>,
        chunk: usize,
        stall: bool,
        calls: usize,
    }

    impl AsyncWrite for Socket {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            if self.stall && self.calls.is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = buf.len().min(self.chunk);
            self.out.lock().unwrap().extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Writes `writes` one after another as the dispatcher does (looping on
    /// partial writes), then shuts down; returns the bytes on the wire.
    async fn through(writes: &[&[u8]], chunk: usize, stall: bool) -> Vec<u8> {
        use tokio::io::AsyncWriteExt;
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut writer = ProblemWriter::new(Socket {
            out: out.clone(),
            chunk,
            stall,
            calls: 0,
        });
        for w in writes {
            writer.write_all(w).await.unwrap();
        }
        writer.shutdown().await.unwrap();
        out.lock().unwrap().clone()
    }

    /// Head and body of one response on the wire.
    fn split(wire: &[u8]) -> (String, Vec<u8>) {
        let end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (
            String::from_utf8(wire[..end].to_vec()).unwrap(),
            wire[end..].to_vec(),
        )
    }

    fn assert_problem(wire: &[u8], status_line: &str, code: &str) {
        let (head, body) = split(wire);
        assert!(head.starts_with(&format!("{status_line}\r\n")), "{head}");
        assert!(
            head.contains("content-type: application/problem+json\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}\r\n", body.len())),
            "{head}"
        );
        assert!(head.contains("connection: close\r\n"), "{head}");
        assert!(head.contains(DATE), "{head}");
        assert!(!head.contains("content-length: 0"), "{head}");
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], code, "{problem}");
        assert_eq!(
            problem["status"].as_u64().unwrap().to_string(),
            status_line[9..12]
        );
    }

    #[tokio::test]
    async fn the_three_dispatcher_errors_become_problems() {
        for (status, code) in [
            ("400 Bad Request", "VALIDATION_FAILED"),
            ("408 Request Timeout", "REQUEST_TIMEOUT"),
            ("431 Request Header Fields Too Large", "HEADERS_TOO_LARGE"),
        ] {
            let wire = through(&[&dispatcher_head(status)], usize::MAX, false).await;
            assert_problem(&wire, &format!("HTTP/1.1 {status}"), code);
        }
    }

    #[tokio::test]
    async fn partial_and_refused_writes_still_deliver_the_whole_problem() {
        let head = dispatcher_head("408 Request Timeout");
        let whole = through(&[&head], usize::MAX, false).await;
        for chunk in [1, 7, 64] {
            let wire = through(&[&head], chunk, true).await;
            assert_eq!(wire, whole, "chunk {chunk}");
        }
    }

    #[tokio::test]
    async fn earlier_pipelined_responses_pass_unchanged_before_the_problem() {
        let ok =
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}";
        let mut buf = ok.to_vec();
        buf.extend_from_slice(&dispatcher_head("400 Bad Request"));
        for (chunk, stall) in [(usize::MAX, false), (5, true), (ok.len() + 3, false)] {
            let wire = through(&[&buf], chunk, stall).await;
            assert_eq!(&wire[..ok.len()], ok, "chunk {chunk}");
            assert_problem(
                &wire[ok.len()..],
                "HTTP/1.1 400 Bad Request",
                "VALIDATION_FAILED",
            );
        }
    }

    #[tokio::test]
    async fn the_head_written_on_its_own_after_earlier_writes_is_rewritten() {
        let ok = b"HTTP/1.1 204 No Content\r\n\r\n".as_slice();
        let head = dispatcher_head("431 Request Header Fields Too Large");
        let wire = through(&[ok, &head], 3, true).await;
        assert_eq!(&wire[..ok.len()], ok);
        assert_problem(
            &wire[ok.len()..],
            "HTTP/1.1 431 Request Header Fields Too Large",
            "HEADERS_TOO_LARGE",
        );
    }

    #[tokio::test]
    async fn everything_else_passes_through_byte_for_byte() {
        let cases: Vec<Vec<u8>> = vec![
            // A 400 with a body (the application's problem+json).
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\ncontent-type: application/problem+json\r\n\r\n{}".to_vec(),
            // Empty but typed.
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ncontent-type: text/plain\r\n\r\n".to_vec(),
            // Another status with an empty body.
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n".to_vec(),
            // Chunked or without any length.
            b"HTTP/1.1 408 Request Timeout\r\ntransfer-encoding: chunked\r\n\r\n".to_vec(),
            b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n".to_vec(),
            // The error head followed by more bytes: not the last thing written.
            [dispatcher_head("400 Bad Request"), b"x".to_vec()].concat(),
            // Not a head: a body that merely ends like one, without a status line.
            b"{\"a\": 1}\r\ncontent-length: 0\r\n\r\n".to_vec(),
            // Malformed header line.
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nno colon\r\n\r\n".to_vec(),
            b"".to_vec(),
        ];
        for case in cases {
            for chunk in [usize::MAX, 4] {
                let wire = through(&[&case], chunk, chunk == 4).await;
                assert_eq!(wire, case, "{}", String::from_utf8_lossy(&case));
            }
        }
    }

    #[test]
    fn parses_only_complete_error_heads() {
        let head = dispatcher_head("400 Bad Request");
        let parsed = parse_error_head(&head).unwrap();
        assert_eq!(parsed.status, StatusCode::BAD_REQUEST);
        assert_eq!(parsed.status_line, b"HTTP/1.1 400 Bad Request");
        assert_eq!(parsed.headers.len(), 2);
        assert!(parse_error_head(&head[..head.len() - 2]).is_none());
        assert!(parse_error_head(&head[1..]).is_none());
        let upper = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        assert!(parse_error_head(upper).is_some());
        let twice = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ncontent-length: 0\r\n\r\n";
        assert!(parse_error_head(twice).is_none());
        assert_eq!(
            find_error_head(&[b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &head].concat())
                .map(|(i, _)| i),
            Some(19)
        );
    }
}
