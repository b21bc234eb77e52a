//! The HTTP listener's access token, compared in constant time.
//!
//! A request carries it as `Authorization: Bearer TOKEN` (scrapers, curl) or as
//! `?token=TOKEN` (a phone's browser). Both sides are hashed with SHA-256 first, so the
//! comparison takes the same time whatever the candidate's length or content, and `subtle`
//! compares the digests without an early exit.

use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

use super::request::{Request, percent_decode, query_value};
use crate::config::MAX_HTTP_TOKEN_LEN;

/// The token a listener requires, kept only as its digest.
pub struct AccessToken {
    digest: [u8; 32],
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

impl AccessToken {
    /// A token from its text.
    pub fn new(token: &str) -> AccessToken {
        AccessToken {
            digest: sha256(token.as_bytes()),
        }
    }

    /// Whether `candidate` is the token.
    fn matches(&self, candidate: &[u8]) -> bool {
        bool::from(self.digest.ct_eq(&sha256(candidate)))
    }

    /// Whether `request` carries the token, in its `Authorization` header or its query.
    pub fn admits(&self, request: &Request<'_>) -> bool {
        let from_header = request
            .authorization
            .and_then(bearer)
            .is_some_and(|t| self.matches(t));
        let from_query = request
            .query
            .and_then(|q| query_value(q, "token"))
            .is_some_and(|encoded| {
                let mut decoded = [0u8; MAX_HTTP_TOKEN_LEN];
                percent_decode(encoded, &mut decoded)
                    .and_then(|n| decoded.get(..n))
                    .is_some_and(|t| self.matches(t))
            });
        from_header | from_query
    }
}

/// The credentials of a `Bearer` authorization value (the scheme is case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(value.get(7..)?.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::Method;

    fn request<'a>(authorization: Option<&'a [u8]>, query: Option<&'a str>) -> Request<'a> {
        Request {
            method: Method::Get,
            path: "/",
            query,
            authorization,
            host: None,
        }
    }

    #[test]
    fn the_token_is_taken_from_a_bearer_header_or_the_query() {
        let token = AccessToken::new("s3cret/token+1");
        assert!(token.admits(&request(Some(b"Bearer s3cret/token+1"), None)));
        assert!(token.admits(&request(Some(b"bearer  s3cret/token+1 "), None)));
        assert!(token.admits(&request(None, Some("token=s3cret%2Ftoken%2B1"))));
        assert!(token.admits(&request(None, Some("a=b&token=s3cret/token%2b1"))));
    }

    #[test]
    fn anything_else_is_refused() {
        let token = AccessToken::new("s3cret-token-1");
        assert!(!token.admits(&request(None, None)));
        assert!(!token.admits(&request(Some(b"Bearer s3cret-token-"), None)));
        assert!(!token.admits(&request(Some(b"Basic s3cret-token-1"), None)));
        assert!(!token.admits(&request(Some(b"s3cret-token-1"), None)));
        assert!(!token.admits(&request(None, Some("token=s3cret-token-12"))));
        assert!(!token.admits(&request(None, Some("tok=s3cret-token-1"))));
        let long = format!("token={}", "a".repeat(MAX_HTTP_TOKEN_LEN + 1));
        assert!(!token.admits(&request(None, Some(&long))));
    }
}
