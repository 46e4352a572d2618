//! Queue monitoring: [`Ops::queues`].

use crate::management::ManagementQueue;
use crate::{Ops, OpsError, now_secs};
use serde::Serialize;

/// What a queue is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum QueueRole {
    /// The queue the gateway consumes (`<prefix>.inbound`).
    Inbound,
    /// The delayed-retry queue (`<prefix>.retry`).
    Retry,
    /// The dead-letter queue (`<prefix>.dlq`).
    DeadLetter,
    /// An authority's inbox.
    Inbox,
}

impl QueueRole {
    /// The stable kebab-case id.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Retry => "retry",
            Self::DeadLetter => "dead-letter",
            Self::Inbox => "inbox",
        }
    }
}

/// One queue's figures.
///
/// `ready` and `consumers` are exact at [`QueueReport::observed_at`] (AMQP
/// passive declare). The other figures come from the management API, which
/// RabbitMQ samples every 5 s by default; they are `None` when the API is
/// not configured or not reachable ([`QueueReport::management_error`]) or
/// the broker does not report them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct QueueStats {
    /// The queue's name.
    pub name: String,
    /// What it is for.
    pub role: QueueRole,
    /// For an inbox: the authority it belongs to, where known.
    pub authority: Option<String>,
    /// Whether the queue exists on the broker.
    pub exists: bool,
    /// Messages ready for delivery (the depth); `None` if it does not exist.
    pub ready: Option<u64>,
    /// Consumers subscribed to it.
    pub consumers: Option<u32>,
    /// Messages delivered and not yet acknowledged.
    pub unacked: Option<u64>,
    /// Ready plus unacknowledged (`ready` + `unacked`).
    pub messages: Option<u64>,
    /// Messages published into the queue per second.
    pub publish_rate: Option<f64>,
    /// Messages delivered to consumers (or fetched) per second.
    pub deliver_rate: Option<f64>,
    /// Messages acknowledged per second.
    pub ack_rate: Option<f64>,
    /// Age in seconds of the message at the head of the queue (from its
    /// AMQP timestamp; classic queues only).
    pub oldest_message_age_secs: Option<u64>,
    /// `classic`, `quorum` or `stream`.
    pub queue_type: Option<String>,
    /// The queue process's state (`running`, `flow`, …).
    pub state: Option<String>,
}

/// Every queue of the topology, in the order inbound, retry, dead-letter,
/// inboxes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct QueueReport {
    /// When the figures were taken (Unix seconds).
    pub observed_at: u64,
    /// The virtual host.
    pub vhost: String,
    /// The management API's URL, if configured.
    pub management_url: Option<String>,
    /// Why management figures are missing, if they are.
    pub management_error: Option<String>,
    /// One entry per queue.
    pub queues: Vec<QueueStats>,
}

impl QueueReport {
    /// The entry of `name`.
    pub fn queue(&self, name: &str) -> Option<&QueueStats> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The figures as Prometheus gauges (text exposition format 0.0.4), one
    /// family per figure, labelled `queue`, `role` and (inboxes) `authority`;
    /// figures that are unknown are left out. For a `/metrics` endpoint.
    pub fn prometheus(&self) -> String {
        type Pick = fn(&QueueStats) -> Option<f64>;
        let families: [(&str, &str, Pick); 8] = [
            (
                "xoev_queue_exists",
                "Whether the queue exists on the broker (1) or not (0).",
                |q| Some(if q.exists { 1.0 } else { 0.0 }),
            ),
            (
                "xoev_queue_ready_messages",
                "Messages ready for delivery (the depth).",
                |q| q.ready.map(|v| v as f64),
            ),
            (
                "xoev_queue_unacked_messages",
                "Messages delivered and not yet acknowledged.",
                |q| q.unacked.map(|v| v as f64),
            ),
            (
                "xoev_queue_consumers",
                "Consumers subscribed to the queue.",
                |q| q.consumers.map(f64::from),
            ),
            (
                "xoev_queue_publish_rate",
                "Messages published into the queue per second.",
                |q| q.publish_rate,
            ),
            (
                "xoev_queue_deliver_rate",
                "Messages delivered from the queue per second.",
                |q| q.deliver_rate,
            ),
            (
                "xoev_queue_ack_rate",
                "Messages acknowledged per second.",
                |q| q.ack_rate,
            ),
            (
                "xoev_queue_oldest_message_age_seconds",
                "Age of the message at the head of the queue.",
                |q| q.oldest_message_age_secs.map(|v| v as f64),
            ),
        ];
        let mut out = String::new();
        for (name, help, pick) in families {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for q in &self.queues {
                let Some(v) = pick(q) else { continue };
                let mut labels =
                    format!("queue=\"{}\",role=\"{}\"", escape(&q.name), q.role.as_str());
                if let Some(a) = &q.authority {
                    labels.push_str(&format!(",authority=\"{}\"", escape(a)));
                }
                out.push_str(&format!("{name}{{{labels}}} {v}\n"));
            }
        }
        out
    }
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Whether the broker is usable, for a health page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BrokerHealth {
    /// Whether an AMQP channel could be opened.
    pub amqp: bool,
    /// Why not.
    pub amqp_error: Option<String>,
    /// Whether the management API answered (`None`: not configured).
    pub management: Option<bool>,
    /// Why not.
    pub management_error: Option<String>,
    /// A memory or disk alarm in effect (RabbitMQ then blocks publishers),
    /// as the management API reports it.
    pub alarm: Option<String>,
}

impl BrokerHealth {
    /// Reachable over AMQP, the management API (if configured) answers, no alarm.
    pub fn healthy(&self) -> bool {
        self.amqp && self.management != Some(false) && self.alarm.is_none()
    }
}

impl Ops {
    /// Checks the AMQP connection and, if configured, the management API
    /// and RabbitMQ's memory/disk alarms. Never fails: problems are in the
    /// result.
    pub async fn broker_health(&self) -> BrokerHealth {
        let (amqp, amqp_error) = match self.channel().await {
            Ok(ch) => {
                let _ = ch.close(200, "done".into()).await;
                (true, None)
            }
            Err(e) => (false, Some(e.message)),
        };
        let (management, management_error, alarm) = match &self.inner.management {
            None => (None, None, None),
            Some(m) => match m.alarms().await {
                Ok(alarm) => (Some(true), None, alarm),
                Err(e) => (Some(false), Some(e.message), None),
            },
        };
        BrokerHealth {
            amqp,
            amqp_error,
            management,
            management_error,
            alarm,
        }
    }

    /// Figures of every queue of the topology. Fails only if RabbitMQ cannot
    /// be reached over AMQP; a missing queue is reported with
    /// `exists: false`, a failing management API in
    /// [`QueueReport::management_error`].
    pub async fn queues(&self) -> Result<QueueReport, OpsError> {
        let c = &self.inner.config;
        let t = &c.topology;
        let mut list: Vec<(String, QueueRole, Option<String>)> = vec![
            (t.inbound_queue.clone(), QueueRole::Inbound, None),
            (t.retry_queue.clone(), QueueRole::Retry, None),
            (t.dead_letter_queue.clone(), QueueRole::DeadLetter, None),
        ];
        for inbox in &t.inboxes {
            let authority = c.inbox_authorities.get(inbox).cloned();
            list.push((inbox.clone(), QueueRole::Inbox, authority));
        }

        let management = self.management_figures(&list).await;
        let observed_at = now_secs();
        let mut ch = self.channel().await?;
        let mut queues = Vec::with_capacity(list.len());
        for (i, (name, role, authority)) in list.into_iter().enumerate() {
            if !ch.status().connected() {
                ch = self.channel().await?;
            }
            let m = match &management {
                Ok(all) => all.get(i).cloned().flatten(),
                Err(_) => None,
            };
            // The management API knows which queues exist; asking AMQP about
            // a missing queue closes the channel (and lapin logs an error).
            let known_missing = management.is_ok() && m.is_none();
            let amqp = if known_missing {
                None
            } else {
                Self::passive(&ch, &name).await?
            };
            queues.push(stats(name, role, authority, amqp, m, observed_at));
        }
        let _ = ch.close(200, "done".into()).await;
        Ok(QueueReport {
            observed_at,
            vhost: self.inner.vhost.clone(),
            management_url: self.inner.management.as_ref().map(|m| m.url().to_owned()),
            management_error: management.err().map(|e| e.message),
            queues,
        })
    }

    /// Management figures per queue, in `list`'s order (all requests at once).
    async fn management_figures(
        &self,
        list: &[(String, QueueRole, Option<String>)],
    ) -> Result<Vec<Option<ManagementQueue>>, OpsError> {
        let Some(m) = &self.inner.management else {
            return Err(OpsError::new(
                crate::OpsErrorKind::Management,
                "no management API configured",
            ));
        };
        let vhost = &self.inner.vhost;
        let requests = list.iter().map(|(name, _, _)| m.queue(vhost, name));
        futures_util::future::join_all(requests)
            .await
            .into_iter()
            .collect()
    }
}

fn stats(
    name: String,
    role: QueueRole,
    authority: Option<String>,
    amqp: Option<(u32, u32)>,
    m: Option<ManagementQueue>,
    now: u64,
) -> QueueStats {
    let ready = amqp.map(|(r, _)| u64::from(r));
    let unacked = m.as_ref().and_then(|m| m.messages_unacknowledged);
    let rate = |pick: fn(&crate::MessageStats) -> Option<crate::Rate>| {
        m.as_ref()
            .and_then(|m| m.message_stats.as_ref())
            .and_then(pick)
            .map(|r| r.rate)
    };
    QueueStats {
        exists: amqp.is_some(),
        ready,
        consumers: amqp.map(|(_, c)| c),
        unacked,
        messages: ready.zip(unacked).map(|(r, u)| r + u),
        publish_rate: amqp.and(rate(|s| s.publish_details)),
        deliver_rate: amqp.and(rate(|s| s.deliver_get_details)),
        ack_rate: amqp.and(rate(|s| s.ack_details)),
        oldest_message_age_secs: m
            .as_ref()
            .and_then(|m| m.head_message_timestamp)
            .filter(|_| ready.is_some_and(|r| r > 0))
            .map(|t| now.saturating_sub(t)),
        queue_type: m.as_ref().and_then(|m| m.queue_type.clone()),
        state: m.as_ref().and_then(|m| m.state.clone()),
        name,
        role,
        authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, role: QueueRole, ready: Option<u64>) -> QueueStats {
        QueueStats {
            name: name.into(),
            role,
            authority: None,
            exists: ready.is_some(),
            ready,
            consumers: ready.map(|_| 2),
            unacked: None,
            messages: None,
            publish_rate: Some(1.5),
            deliver_rate: None,
            ack_rate: None,
            oldest_message_age_secs: None,
            queue_type: None,
            state: None,
        }
    }

    #[test]
    fn prometheus_text_has_one_gauge_family_per_figure() {
        let mut inbox = entry("xoev.inbox.fa-9198", QueueRole::Inbox, Some(7));
        inbox.authority = Some("fa:\"9198\"\\x\ny".into());
        let report = QueueReport {
            observed_at: 0,
            vhost: "/".into(),
            management_url: None,
            management_error: None,
            queues: vec![
                entry("xoev.dlq", QueueRole::DeadLetter, Some(3)),
                inbox,
                entry("gone", QueueRole::Inbox, None),
            ],
        };
        let text = report.prometheus();
        assert!(text.contains("# TYPE xoev_queue_ready_messages gauge\n"));
        assert!(
            text.contains("xoev_queue_ready_messages{queue=\"xoev.dlq\",role=\"dead-letter\"} 3\n")
        );
        assert!(text.contains(
            "xoev_queue_ready_messages{queue=\"xoev.inbox.fa-9198\",role=\"inbox\",authority=\"fa:\\\"9198\\\"\\\\x\\ny\"} 7\n"
        ), "{text}");
        assert!(text.contains("xoev_queue_exists{queue=\"gone\",role=\"inbox\"} 0\n"));
        assert!(!text.contains("xoev_queue_ready_messages{queue=\"gone\""));
        assert!(
            text.contains("xoev_queue_publish_rate{queue=\"xoev.dlq\",role=\"dead-letter\"} 1.5\n")
        );
        // Every sample line is `name{labels} value` with a number.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap_or("");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
