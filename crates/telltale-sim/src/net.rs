//! A listener whose connections die when the sim shuts down.
//!
//! Handlers stop on the sim's cancellation token, but a connection can also be
//! parked inside hyper or tungstenite, e.g. blocked writing to a client that
//! does not read, or idle in keep-alive. Every accepted socket is therefore
//! wrapped in [`CancelIo`], which fails all reads and writes once the token is
//! cancelled and wakes whoever waits on it, so the connection task errors out
//! and drops the socket at once (a crash, not a goodbye: no close frame, no
//! final chunk).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// A TCP listener handing out [`CancelIo`] streams.
pub(crate) struct CancelListener {
    pub(crate) inner: TcpListener,
    pub(crate) token: CancellationToken,
}

impl axum::serve::Listener for CancelListener {
    type Io = CancelIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        // Many small frames: don't let Nagle hold them back.
        let _ = io.set_nodelay(true);
        (CancelIo::new(io, self.token.clone()), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that fails (and wakes its task) once the token is cancelled.
pub(crate) struct CancelIo {
    inner: TcpStream,
    token: CancellationToken,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl CancelIo {
    fn new(inner: TcpStream, token: CancellationToken) -> Self {
        CancelIo {
            inner,
            cancelled: Box::pin(token.clone().cancelled_owned()),
            token,
        }
    }

    /// `Some(error)` once cancelled; otherwise registers the task's waker for
    /// the cancellation.
    fn check(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if self.token.is_cancelled() || self.cancelled.as_mut().poll(cx).is_ready() {
            Some(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "telltale-sim shut down",
            ))
        } else {
            None
        }
    }
}

impl AsyncRead for CancelIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CancelIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
