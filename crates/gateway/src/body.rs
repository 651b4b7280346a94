//! The bodies the gateway sends: a client's body streamed through untouched, or one it holds
//! whole (a body it had to read for credentials, or one of its own answers).

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

pub enum ProxyBody {
    Stream(Incoming),
    Whole(Full<Bytes>),
}

impl ProxyBody {
    pub fn empty() -> ProxyBody {
        ProxyBody::Whole(Full::new(Bytes::new()))
    }

    pub fn from_bytes(b: impl Into<Bytes>) -> ProxyBody {
        ProxyBody::Whole(Full::new(b.into()))
    }
}

/// A body's failure: the client's or the upstream's connection broke mid-body.
pub type BodyError = hyper::Error;

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            ProxyBody::Stream(b) => Pin::new(b).poll_frame(cx),
            ProxyBody::Whole(b) => Pin::new(b).poll_frame(cx).map_err(|never| match never {}),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Stream(b) => b.is_end_stream(),
            ProxyBody::Whole(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Stream(b) => b.size_hint(),
            ProxyBody::Whole(b) => b.size_hint(),
        }
    }
}

impl From<Incoming> for ProxyBody {
    fn from(b: Incoming) -> ProxyBody {
        ProxyBody::Stream(b)
    }
}
