//! [`ManagementClient`]: the RabbitMQ management HTTP API (plugin
//! `rabbitmq_management`), read-only.

use crate::error::{OpsError, OpsErrorKind as K};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use std::time::Duration;

/// A client of the management HTTP API, e.g. `http://127.0.0.1:15672`.
///
/// Credentials come from the URL's user info (`http://user:pass@host:15672`)
/// or, when it has none, from the caller (usually the AMQP URL's).
#[derive(Debug, Clone)]
pub struct ManagementClient {
    http: reqwest::Client,
    base: reqwest::Url,
    user: String,
    password: String,
}

/// What the management API reports about one queue (the fields we use).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ManagementQueue {
    /// Ready plus unacknowledged messages.
    #[serde(default)]
    pub messages: Option<u64>,
    /// Messages ready for delivery.
    #[serde(default)]
    pub messages_ready: Option<u64>,
    /// Messages delivered and not yet acknowledged.
    #[serde(default)]
    pub messages_unacknowledged: Option<u64>,
    /// Subscribed consumers.
    #[serde(default)]
    pub consumers: Option<u32>,
    /// AMQP `timestamp` (Unix seconds) of the message at the head of the
    /// queue; classic queues only, and only if that message has a timestamp.
    #[serde(default)]
    pub head_message_timestamp: Option<u64>,
    /// `classic`, `quorum` or `stream`.
    #[serde(default, rename = "type")]
    pub queue_type: Option<String>,
    /// `running`, `idle`, `flow`, …
    #[serde(default)]
    pub state: Option<String>,
    /// Message counters and rates.
    #[serde(default)]
    pub message_stats: Option<MessageStats>,
}

/// Message counters of a queue; each rate is messages per second over the
/// management plugin's last sample interval.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessageStats {
    /// Messages published into the queue.
    #[serde(default)]
    pub publish_details: Option<Rate>,
    /// Messages delivered to consumers or fetched with `basic.get`.
    #[serde(default)]
    pub deliver_get_details: Option<Rate>,
    /// Messages acknowledged.
    #[serde(default)]
    pub ack_details: Option<Rate>,
    /// Messages delivered again.
    #[serde(default)]
    pub redeliver_details: Option<Rate>,
}

/// A rate as the management API reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Rate {
    /// Per second.
    #[serde(default)]
    pub rate: f64,
}

impl ManagementClient {
    /// A client of `url`; `fallback_user`/`fallback_password` are used when
    /// the URL carries no user info. Requests time out after 10 seconds.
    pub fn new(url: &str, fallback_user: &str, fallback_password: &str) -> Result<Self, OpsError> {
        let mut base = reqwest::Url::parse(url)
            .map_err(|e| OpsError::new(K::InvalidConfig, format!("management URL {url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(OpsError::new(
                K::InvalidConfig,
                format!("management URL {url:?}: the scheme must be http or https"),
            ));
        }
        let (user, password) = if base.username().is_empty() {
            (fallback_user.to_owned(), fallback_password.to_owned())
        } else {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (
                decode(base.username()),
                decode(base.password().unwrap_or("")),
            )
        };
        // Neither can fail for an http(s) URL; ignoring the results is safe.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OpsError::new(K::InvalidConfig, format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            user,
            password,
        })
    }

    /// The API's base URL without credentials.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// One queue; `Ok(None)` if the broker has no such queue.
    pub async fn queue(
        &self,
        vhost: &str,
        name: &str,
    ) -> Result<Option<ManagementQueue>, OpsError> {
        let path = format!(
            "api/queues/{}/{}",
            utf8_percent_encode(vhost, NON_ALPHANUMERIC),
            utf8_percent_encode(name, NON_ALPHANUMERIC)
        );
        let url = self.join(&path)?;
        let response = self
            .http
            .get(url)
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| {
                OpsError::new(
                    K::Management,
                    format!("management API {}: {}", self.base, error_chain(&e)),
                )
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(OpsError::new(
                K::Management,
                format!(
                    "management API {}: HTTP {status} for queue {name}",
                    self.base
                ),
            ));
        }
        let body = response.bytes().await.map_err(|e| {
            OpsError::new(
                K::Management,
                format!("management API: reading the answer: {e}"),
            )
        })?;
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            OpsError::new(
                K::Management,
                format!("management API: unexpected answer for queue {name}: {e}"),
            )
        })
    }

    /// RabbitMQ's alarm check (`/api/health/checks/alarms`): `Ok(None)` if
    /// no memory or disk alarm is in effect, `Ok(Some(answer))` with the
    /// API's answer if one is (publishers are then blocked).
    pub async fn alarms(&self) -> Result<Option<String>, OpsError> {
        let url = self.join("api/health/checks/alarms")?;
        let response = self
            .http
            .get(url)
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| {
                OpsError::new(
                    K::Management,
                    format!("management API {}: {}", self.base, error_chain(&e)),
                )
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(None);
        }
        let body = response.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return Ok(Some(body));
        }
        Err(OpsError::new(
            K::Management,
            format!(
                "management API {}: HTTP {status} for the alarm check",
                self.base
            ),
        ))
    }

    fn join(&self, path: &str) -> Result<reqwest::Url, OpsError> {
        let mut base = self.base.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        base.join(path)
            .map_err(|e| OpsError::new(K::InvalidConfig, format!("management URL: {e}")))
    }
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_url_or_the_fallback() {
        let c = ManagementClient::new("http://ops:s%40cret@127.0.0.1:15672", "guest", "guest")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.user.as_str(), c.password.as_str()), ("ops", "s@cret"));
        assert_eq!(c.url(), "http://127.0.0.1:15672/");
        let c = ManagementClient::new("http://127.0.0.1:15672/rabbit", "guest", "pw")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.user.as_str(), c.password.as_str()), ("guest", "pw"));
        let url = c.join("api/queues/%2F/q").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:15672/rabbit/api/queues/%2F/q"
        );
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for bad in ["not a url", "amqp://127.0.0.1:5672", "ftp://x"] {
            let e = ManagementClient::new(bad, "g", "g").err();
            assert_eq!(e.map(|e| e.kind), Some(K::InvalidConfig), "{bad}");
        }
    }
}
