//! Which response a request gets: the token check first, then the path.

use std::sync::Arc;
use std::time::Instant;

use super::rates::RateSampler;
use super::request::{Request, RequestError, query_value};
use super::response::{Response, Status};
use super::site::Site;
use super::status_page::PageRequest;
use super::token::AccessToken;
use super::{api, prometheus, status_page, view};
use crate::server::shared::Shared;

/// The listener's request handler.
pub struct Routes {
    shared: Arc<Shared>,
    site: Site,
    token: Option<AccessToken>,
}

impl Routes {
    /// Handles requests about `shared`, describing the box as `site`, requiring `token` if any.
    pub fn new(shared: Arc<Shared>, site: Site, token: Option<&str>) -> Routes {
        Routes {
            shared,
            site,
            token: token.map(AccessToken::new),
        }
    }

    /// The response to a request that could not be read.
    pub fn refuse(&self, error: &RequestError) -> Response {
        let status = match error {
            RequestError::Malformed(_) | RequestError::BodyNotAllowed => Status::BadRequest,
            RequestError::TooLarge { .. } => Status::HeadersTooLarge,
            RequestError::MethodNotAllowed => Status::MethodNotAllowed,
            RequestError::Timeout { .. } => Status::RequestTimeout,
        };
        let response = Response::text(status, format!("{error}\n"));
        if status == Status::MethodNotAllowed {
            response.header("Allow", "GET, HEAD")
        } else {
            response
        }
    }

    /// The response to `request`, with rates from `sampler`.
    pub fn respond(&self, request: &Request<'_>, sampler: &RateSampler) -> Response {
        if let Some(token) = &self.token {
            if !token.admits(request) {
                return Response::text(
                    Status::Unauthorized,
                    "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN\n",
                )
                .header("WWW-Authenticate", "Bearer realm=\"rtmpsd\"");
            }
        }
        let gather = || view::gather(&self.shared, sampler, Instant::now());
        match request.path {
            "/" => {
                let page = PageRequest {
                    host: request.host,
                    token: request.query.and_then(|q| query_value(q, "token")),
                };
                let html = status_page::render(&gather(), &self.site, &page);
                Response::with("text/html; charset=utf-8", html)
            }
            "/metrics" => Response::with(prometheus::CONTENT_TYPE, prometheus::render(&gather())),
            "/api/v1/streams" => Response::with("application/json", api::streams(&gather())),
            "/cert.pem" => match &self.site.certificate {
                Some(cert) => Response::with("application/x-pem-file", cert.pem.clone()).header(
                    "Content-Disposition",
                    "attachment; filename=\"rtmpsd-cert.pem\"",
                ),
                None => Response::text(Status::NotFound, "no certificate could be read\n"),
            },
            _ => Response::text(
                Status::NotFound,
                "not found: try /, /metrics or /api/v1/streams\n",
            ),
        }
    }
}
