//! Carrying a rendered body from its render thread to the client's
//! connection: the thread pushes frames into a bounded channel, the
//! connection reads them as an `http_body::Body`. A relay that closes
//! without its end marker is an error, so a cut-off page never passes for a
//! whole one.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

/// Copies `body` into the relay; stops when the client hangs up.
pub(super) async fn relay(mut body: Body, pieces: &mpsc::Sender<Piece>) {
    while let Some(frame) = body.frame().await {
        let piece = match frame {
            Ok(frame) => Piece::Frame(frame),
            Err(error) => Piece::Failed(error),
        };
        let failed = matches!(piece, Piece::Failed(_));
        if pieces.send(piece).await.is_err() || failed {
            return;
        }
    }
    let _ = pieces.send(Piece::End).await;
}

pub(super) enum Piece {
    Frame(Frame<Bytes>),
    Failed(axum::Error),
    /// The body is complete; without it, a closed relay means the render was cut off.
    End,
}

/// The client's side of a body a render thread produces.
pub(super) struct RelayedBody {
    pieces: mpsc::Receiver<Piece>,
    size: SizeHint,
    ended: bool,
    /// When to stop waiting for a render thread that went silent mid-body.
    give_up: Pin<Box<tokio::time::Sleep>>,
}

impl RelayedBody {
    pub(super) fn new(pieces: mpsc::Receiver<Piece>, size: SizeHint, give_up: tokio::time::Instant) -> Self {
        Self { pieces, size, ended: false, give_up: Box::pin(tokio::time::sleep_until(give_up)) }
    }
}

impl http_body::Body for RelayedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.pieces.poll_recv(cx) {
            Poll::Pending => {
                if self.give_up.as_mut().poll(cx).is_ready() {
                    self.ended = true;
                    return Poll::Ready(Some(Err(axum::Error::new("the portal stopped rendering this page"))));
                }
                Poll::Pending
            }
            Poll::Ready(Some(Piece::Frame(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Piece::Failed(error))) => {
                self.ended = true;
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(Some(Piece::End)) => {
                self.ended = true;
                Poll::Ready(None)
            }
            // An error, not an end: the client must not take a cut-off page for a whole one.
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(Some(Err(axum::Error::new("the page was cut off at the render time limit"))))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.size
    }
}
