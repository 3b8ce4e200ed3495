//! A JSON-over-HTTP client of one base URL, with a bearer token and a bound on what it reads:
//! the gateway's pull-mode client of its upstream and the sequencer's push-mode client of a
//! gateway are both this, so one error type says what went wrong with an exchange.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A failed exchange with a remote service; every message names the URL.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// The client could not be built (TLS roots, settings).
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// No answer: connection refused, timeout, TLS failure.
    #[error("request to {url} failed: {source}")]
    Request {
        /// The URL asked.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// An answer other than 2xx.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL asked.
        url: String,
        /// The status of the answer.
        status: reqwest::StatusCode,
        /// The answer's body (bounded).
        body: String,
    },
    /// An answer over the size limit.
    #[error("{url} answered more than {limit} bytes")]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// An answer that is not the expected JSON.
    #[error("{url} answered something that is not the expected JSON: {reason}")]
    Decode {
        /// The URL asked.
        url: String,
        /// What the decoder said.
        reason: String,
    },
}

/// How much of an error answer's body is quoted in [`HttpClientError::Status`].
const QUOTED_BODY_BYTES: usize = 512;

/// The client of one remote service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct JsonClient {
    http: reqwest::Client,
    base_url: String,
    max_response_bytes: usize,
    bearer_token: Option<String>,
}

impl JsonClient {
    /// A client of `base_url` (a trailing `/` is dropped): every request times out after
    /// `timeout` (connecting after at most 10 s of it), and reads at most
    /// `max_response_bytes` of an answer.
    pub fn new(
        base_url: &str,
        timeout: Duration,
        max_response_bytes: usize,
        bearer_token: Option<String>,
    ) -> Result<Self, HttpClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(HttpClientError::Client)?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            max_response_bytes,
            bearer_token,
        })
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `POST {base_url}{path}` with `body` as JSON; the answer's JSON as `R`. A status other
    /// than 2xx is an error quoting the start of the answer; an answer over the bound is
    /// refused without reading the rest.
    pub async fn post<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, HttpClientError> {
        let url = self.url(path);
        let mut request = self.http.post(&url).json(body);
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        let request_error = |source| HttpClientError::Request {
            url: url.clone(),
            source,
        };
        let mut response = request.send().await.map_err(request_error)?;
        let status = response.status();
        let too_large = || HttpClientError::TooLarge {
            url: url.clone(),
            limit: self.max_response_bytes,
        };
        if response
            .content_length()
            .is_some_and(|len| len > self.max_response_bytes as u64)
        {
            return Err(too_large());
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if answer.len() + chunk.len() > self.max_response_bytes {
                return Err(too_large());
            }
            answer.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let quoted = &answer[..answer.len().min(QUOTED_BODY_BYTES)];
            return Err(HttpClientError::Status {
                url,
                status,
                body: String::from_utf8_lossy(quoted).into_owned(),
            });
        }
        serde_json::from_slice(&answer).map_err(|e| HttpClientError::Decode {
            url,
            reason: e.to_string(),
        })
    }
}
