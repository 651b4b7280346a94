//! A client's request as the plugin reads it: headers, query, cookies and — only when a
//! credential may be there and nothing else held it — a form or JSON body, read whole up to a
//! limit. Credentials used are removed before the request goes upstream (`hide_credentials`).

use crate::body::ProxyBody;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE};
use http::request::Parts;
use http_body_util::{BodyExt, Limited};
use serde_json::Value;

/// The largest body read to look for a credential.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Where a credential was found, so that it can be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Header(String),
    Query(String),
    Form(String),
    Json(String),
    Cookie(String),
}

enum Body {
    Stream(hyper::body::Incoming),
    Read(Bytes),
}

/// A body's parameters.
#[derive(Debug)]
pub enum Parsed {
    Form(Vec<(String, String)>),
    Json(serde_json::Map<String, Value>),
    Neither,
}

pub struct Req {
    pub parts: Parts,
    body: Option<Body>,
    parsed: Option<Parsed>,
    query: Option<Vec<(String, String)>>,
    /// Credentials to remove before forwarding.
    pub used: Vec<Found>,
}

/// The body could not be read: too large, or the client went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFailure {
    TooLarge,
    Broken,
}

impl Req {
    pub fn new(parts: Parts, body: hyper::body::Incoming) -> Req {
        Req {
            parts,
            body: Some(Body::Stream(body)),
            parsed: None,
            query: None,
            used: Vec::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Authorization` header, when there is exactly one: with two, the gateway and the
    /// upstream could disagree about who authenticated, so neither counts.
    pub fn authorization(&self) -> Option<&str> {
        let mut all = self
            .parts
            .headers
            .get_all(http::header::AUTHORIZATION)
            .iter();
        let first = all.next()?;
        if all.next().is_some() {
            return None;
        }
        first.to_str().ok()
    }

    fn query_pairs(&mut self) -> &Vec<(String, String)> {
        let q = self.parts.uri.query().unwrap_or("");
        self.query.get_or_insert_with(|| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
    }

    pub fn query(&mut self, name: &str) -> Option<String> {
        self.query_pairs()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        for header in self.parts.headers.get_all(COOKIE) {
            let Ok(s) = header.to_str() else { continue };
            for pair in s.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    if k == name {
                        return Some(v.to_string());
                    }
                }
            }
        }
        None
    }

    fn body_kind(&self) -> Option<bool> {
        let ct = self.header(CONTENT_TYPE.as_str())?.to_ascii_lowercase();
        if ct.starts_with("application/x-www-form-urlencoded") {
            Some(true)
        } else if ct.starts_with("application/json") {
            Some(false)
        } else {
            None
        }
    }

    /// Reads the body once, when it is a form or JSON, to look for parameters in it.
    async fn parse_body(&mut self) -> Result<&Parsed, BodyFailure> {
        if self.parsed.is_none() {
            let kind = self.body_kind();
            let parsed = match (kind, self.body.take()) {
                (Some(form), Some(Body::Stream(b))) => {
                    if self
                        .header(CONTENT_LENGTH.as_str())
                        .and_then(|l| l.parse::<usize>().ok())
                        .is_some_and(|l| l > BODY_LIMIT)
                    {
                        self.body = Some(Body::Stream(b));
                        return Err(BodyFailure::TooLarge);
                    }
                    let bytes = match Limited::new(b, BODY_LIMIT).collect().await {
                        Ok(c) => c.to_bytes(),
                        Err(e) => {
                            return Err(
                                if e.downcast_ref::<http_body_util::LengthLimitError>()
                                    .is_some()
                                {
                                    BodyFailure::TooLarge
                                } else {
                                    BodyFailure::Broken
                                },
                            )
                        }
                    };
                    let p = parse_params(form, &bytes);
                    self.body = Some(Body::Read(bytes));
                    p
                }
                (_, body) => {
                    self.body = body;
                    Parsed::Neither
                }
            };
            self.parsed = Some(parsed);
        }
        Ok(self.parsed.as_ref().expect("set above"))
    }

    /// A parameter of a form or JSON body (`Found::Form` / `Found::Json` tells which).
    pub async fn body_param(&mut self, name: &str) -> Result<Option<(String, Found)>, BodyFailure> {
        if matches!(self.parts.method, http::Method::GET | http::Method::HEAD) {
            return Ok(None);
        }
        Ok(match self.parse_body().await? {
            Parsed::Form(pairs) => pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| (v.clone(), Found::Form(name.to_string()))),
            Parsed::Json(m) => m
                .get(name)
                .and_then(Value::as_str)
                .map(|v| (v.to_string(), Found::Json(name.to_string()))),
            Parsed::Neither => None,
        })
    }

    /// The request to forward, without the credentials in `used` (when `hide`) and without the
    /// cookies named in `cookies` (the gateway's own, never the upstream's business).
    pub fn into_forward(mut self, hide: bool, cookies: &[&str]) -> (Parts, ProxyBody) {
        let used = std::mem::take(&mut self.used);
        let (mut query_drop, mut form_drop, mut json_drop) = (Vec::new(), Vec::new(), Vec::new());
        if hide {
            for f in &used {
                match f {
                    Found::Header(h) => {
                        self.parts.headers.remove(h.as_str());
                    }
                    Found::Query(q) => query_drop.push(q.clone()),
                    Found::Form(k) => form_drop.push(k.clone()),
                    Found::Json(k) => json_drop.push(k.clone()),
                    Found::Cookie(c) => drop_cookie(&mut self.parts, c),
                }
            }
        }
        for c in cookies {
            drop_cookie(&mut self.parts, c);
        }
        if !query_drop.is_empty() {
            let pairs: Vec<(String, String)> = self
                .query_pairs()
                .iter()
                .filter(|(k, _)| !query_drop.contains(k))
                .cloned()
                .collect();
            set_query(&mut self.parts, &pairs);
        }
        let body = match self.body.take() {
            Some(Body::Stream(b)) => ProxyBody::Stream(b),
            Some(Body::Read(bytes)) => {
                let rewritten = match &self.parsed {
                    Some(Parsed::Form(pairs)) if !form_drop.is_empty() => Some(Bytes::from(
                        form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(pairs.iter().filter(|(k, _)| !form_drop.contains(k)))
                            .finish(),
                    )),
                    Some(Parsed::Json(m)) if !json_drop.is_empty() => {
                        let mut m = m.clone();
                        for k in &json_drop {
                            m.remove(k);
                        }
                        Some(Bytes::from(Value::Object(m).to_string()))
                    }
                    _ => None,
                };
                let bytes = rewritten.unwrap_or(bytes);
                self.parts
                    .headers
                    .insert(CONTENT_LENGTH, bytes.len().into());
                self.parts.headers.remove(http::header::TRANSFER_ENCODING);
                ProxyBody::from_bytes(bytes)
            }
            None => ProxyBody::empty(),
        };
        (self.parts, body)
    }
}

/// Replaces the query of the request's URI.
pub fn set_query(parts: &mut Parts, pairs: &[(String, String)]) {
    let path = parts.uri.path().to_string();
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let pq = if q.is_empty() {
        path
    } else {
        format!("{path}?{q}")
    };
    let mut uri = parts.uri.clone().into_parts();
    if let Ok(p) = pq.parse() {
        uri.path_and_query = Some(p);
        if let Ok(u) = http::Uri::from_parts(uri) {
            parts.uri = u;
        }
    }
}

/// Removes one cookie from the request's Cookie headers, keeping the others.
pub fn drop_cookie(parts: &mut Parts, name: &str) {
    let kept: Vec<String> = parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(';'))
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.split_once('=').map(|(k, _)| k) != Some(name))
        .map(str::to_string)
        .collect();
    parts.headers.remove(COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = http::HeaderValue::from_str(&kept.join("; ")) {
            parts.headers.insert(COOKIE, v);
        }
    }
}

/// The parameters of a body: a form's pairs, or a JSON object's members (anything else has
/// none). Where the gateway finds a refresh token or credentials sent in the body.
pub fn parse_params(form: bool, bytes: &[u8]) -> Parsed {
    if form {
        Parsed::Form(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    } else {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) => Parsed::Json(m),
            _ => Parsed::Neither,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, cookie: Option<&str>) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        if let Some(c) = cookie {
            b = b.header(COOKIE, c);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cookies_are_dropped_one_by_one() {
        let mut p = parts("/", Some("a=1; session=xyz; b=2"));
        drop_cookie(&mut p, "session");
        assert_eq!(p.headers[COOKIE], "a=1; b=2");
        drop_cookie(&mut p, "a");
        drop_cookie(&mut p, "b");
        assert!(p.headers.get(COOKIE).is_none());
    }

    #[test]
    fn a_query_parameter_is_removed_and_the_rest_kept() {
        let mut p = parts("/x?refresh_token=abc&keep=1", None);
        set_query(&mut p, &[("keep".into(), "1".into())]);
        assert_eq!(p.uri.to_string(), "/x?keep=1");
        set_query(&mut p, &[]);
        assert_eq!(p.uri.to_string(), "/x");
    }
}
