//! A deadline on request bodies. actix's `client_request_timeout` bounds only
//! the request head; a client that sends the head and then part of a body (or
//! none) would otherwise hold its connection, and the handler waiting on it, for
//! ever. This middleware wraps every request's payload stream: once the body has
//! taken longer than `server.body_timeout_secs` (counted from when the head was
//! read), the stream fails, the request is answered `408 REQUEST_TIMEOUT`
//! (problem+json) and the connection is closed.
//!
//! An overall deadline rather than an idle timeout between chunks: a client
//! trickling one byte every few seconds would keep an idle timer happy for
//! ever. The 10 s default lets a 1 MiB body (the largest accepted) through at
//! about 1 Mbit/s.

use crate::problem::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// How long a request body may take (app data read by [`body_deadline`]).
#[derive(Clone, Copy, Debug)]
pub struct BodyTimeout(pub Duration);

/// A payload stream that fails once its deadline has passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(timed_out())));
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.expired.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(timed_out())))
                }
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }
}

fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "request body timed out",
    ))
}

/// Middleware: puts the body deadline on the request's payload; if it fired,
/// whatever the handler answered becomes `408 REQUEST_TIMEOUT` on a closed
/// connection (the rest of the body is never read).
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(timeout) = req.app_data::<web::Data<BodyTimeout>>().map(|t| t.0) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let expired = Arc::new(AtomicBool::new(false));
    let stream = Deadline {
        inner: req.take_payload(),
        sleep: Box::pin(tokio::time::sleep(timeout)),
        expired: expired.clone(),
    };
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(stream);
    req.set_payload(Payload::from(stream));
    let result = next.call(req).await;
    if !expired.load(Ordering::Relaxed) {
        return result.map(ServiceResponse::map_into_boxed_body);
    }
    // `ApiError::BodyTimeout`'s response closes the connection.
    match result {
        Ok(res) => {
            let (http_req, _) = res.into_parts();
            Ok(ServiceResponse::new(
                http_req,
                ApiError::BodyTimeout.error_response(),
            ))
        }
        Err(_) => Err(ApiError::BodyTimeout.into()),
    }
}
