//! Bounds on client connections, so that no client can hold the server's
//! memory or sockets: at most `max_connections` open at once (more are
//! closed as they arrive), headers within `header_read_timeout` (which also
//! closes connections idle between requests), and request bodies that may
//! not stall longer than `body_read_timeout`.

use std::{
    future::{Ready, ready},
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum_server::accept::Accept;
use hyper_util::{rt::TokioTimer, server::conn::auto::Builder};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::{OwnedSemaphorePermit, Semaphore},
};

/// Accepts connections while fewer than the limit are open, with
/// `TCP_NODELAY` set: responses are written in pieces (streamed pages,
/// headers then body), and Nagle's algorithm would hold the last piece
/// until the client's delayed ACK, about 40 ms per response.
#[derive(Clone, Debug)]
pub struct LimitedAcceptor {
    open: Arc<Semaphore>,
}

impl LimitedAcceptor {
    pub fn new(max_connections: usize) -> Self {
        Self { open: Arc::new(Semaphore::new(max_connections)) }
    }
}

impl<S> Accept<TcpStream, S> for LimitedAcceptor {
    type Stream = Counted<TcpStream>;
    type Service = S;
    type Future = Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(permit) = self.open.clone().try_acquire_owned() else {
            tracing::debug!("connection limit reached: closing a new connection");
            return ready(Err(io::Error::other("connection limit reached")));
        };
        ready(stream.set_nodelay(true).map(|()| (Counted { stream, _permit: permit }, service)))
    }
}

/// A connection holding its place under the limit until it is dropped.
#[derive(Debug)]
pub struct Counted<T> {
    stream: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Makes HTTP/1 connections send their headers within `timeout`, and
/// close when idle that long between requests.
pub fn limit_header_time<E>(builder: &mut Builder<E>, timeout: Duration) {
    builder.http1().timer(TokioTimer::new()).header_read_timeout(timeout);
    builder.http2().timer(TokioTimer::new());
}
