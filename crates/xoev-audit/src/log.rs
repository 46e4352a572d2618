//! The access log: one hash-chained entry per step of an evidence exchange.
//! It records who asked whom for what, when, why and with what outcome —
//! never the evidence itself.

use crate::citizen::CitizenRef;
use crate::error::StoreError;
use crate::timefmt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened at this step of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The gateway received the request and accepted it.
    Requested,
    /// The request was passed on to the answering authority.
    Forwarded,
    /// The answer was delivered to the requesting authority.
    Answered,
    /// The gateway refused the request or the answer; the reason is a
    /// stable kebab-case id such as `no-consent`.
    Rejected(String),
}

/// Why an outcome text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an outcome: {0:?} (requested, forwarded, answered or rejected:<reason>)")]
pub struct InvalidOutcome(pub String);

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Requested => f.write_str("requested"),
            Self::Forwarded => f.write_str("forwarded"),
            Self::Answered => f.write_str("answered"),
            Self::Rejected(r) => write!(f, "rejected:{r}"),
        }
    }
}

impl FromStr for Outcome {
    type Err = InvalidOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "requested" => Ok(Self::Requested),
            "forwarded" => Ok(Self::Forwarded),
            "answered" => Ok(Self::Answered),
            _ => match s.strip_prefix("rejected:") {
                Some(r)
                    if !r.is_empty()
                        && r.len() <= 64
                        && r.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
                {
                    Ok(Self::Rejected(r.to_owned()))
                }
                _ => Err(InvalidOutcome(s.to_owned())),
            },
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What the gateway appends; the store adds `seq`, `time` and the hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// The citizen whose data is concerned.
    pub citizen: CitizenRef,
    /// The requesting authority, e.g. `ags:09162000`.
    pub requester: String,
    /// The answering authority, once known.
    pub answerer: Option<String>,
    /// The evidence type asked for.
    pub evidence_type: String,
    /// The period the evidence covers, if the request names one (e.g. the
    /// assessment year `2024`).
    #[serde(default)]
    pub period: Option<String>,
    /// The purpose given in the request.
    pub purpose: String,
    /// The consent reference the request relies on, if any.
    pub consent: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// Message id of the request (groups the steps of one exchange).
    pub request_message_id: String,
    /// Message id of the answer, once there is one.
    pub answer_message_id: Option<String>,
}

/// One stored entry of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the chain, 1 for the first entry, without gaps.
    pub seq: u64,
    /// When the entry was appended (UTC, microseconds).
    #[serde(with = "timefmt::serde_utc")]
    pub time: OffsetDateTime,
    /// The citizen whose data is concerned.
    pub citizen: CitizenRef,
    /// The requesting authority.
    pub requester: String,
    /// The answering authority, once known.
    pub answerer: Option<String>,
    /// The evidence type asked for.
    pub evidence_type: String,
    /// The period the evidence covers, if the request names one (e.g. the
    /// assessment year `2024`).
    #[serde(default)]
    pub period: Option<String>,
    /// The purpose given in the request.
    pub purpose: String,
    /// The consent reference, if any.
    pub consent: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// Message id of the request.
    pub request_message_id: String,
    /// Message id of the answer.
    pub answer_message_id: Option<String>,
    /// `hash` of the previous entry ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) of the canonical encoding of all fields above.
    pub hash: String,
}

impl Entry {
    /// Builds the entry that follows `head` (seq and hash of the last entry,
    /// `None` for an empty log), computing its hash.
    pub fn chain(new: NewEntry, head: Option<&ChainHead>, time: OffsetDateTime) -> Self {
        let (seq, prev_hash) = match head {
            Some(h) => (h.seq + 1, h.hash.clone()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let mut e = Self {
            seq,
            time: timefmt::normalize(time),
            citizen: new.citizen,
            requester: new.requester,
            answerer: new.answerer,
            evidence_type: new.evidence_type,
            period: new.period,
            purpose: new.purpose,
            consent: new.consent,
            outcome: new.outcome,
            request_message_id: new.request_message_id,
            answer_message_id: new.answer_message_id,
            prev_hash,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// SHA-256 over the canonical encoding: the tag `xoev-audit-entry-v1\n`,
    /// then each field in declaration order (seq in decimal, time in the
    /// canonical UTC form, outcome as text, `prev_hash`) as `+`, its UTF-8
    /// length as 8 bytes big-endian, and its bytes; an absent optional field
    /// as a single `-`.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"xoev-audit-entry-v1\n");
        let mut field = |v: Option<&str>| match v {
            None => h.update(b"-"),
            Some(v) => {
                h.update(b"+");
                h.update((v.len() as u64).to_be_bytes());
                h.update(v.as_bytes());
            }
        };
        field(Some(&self.seq.to_string()));
        field(Some(&timefmt::format(self.time)));
        field(Some(self.citizen.as_str()));
        field(Some(&self.requester));
        field(self.answerer.as_deref());
        field(Some(&self.evidence_type));
        field(self.period.as_deref());
        field(Some(&self.purpose));
        field(self.consent.as_deref());
        field(Some(&self.outcome.to_string()));
        field(Some(&self.request_message_id));
        field(self.answer_message_id.as_deref());
        field(Some(&self.prev_hash));
        hex::encode(h.finalize())
    }

    /// The chain head this entry forms.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// Sequence number and hash of the last entry of a chain. Noted somewhere
/// else (a ticket, a printout), it later proves that no entry up to it was
/// removed from the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// Sequence number of the last entry.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl FromStr for ChainHead {
    type Err = String;

    /// Parses `SEQ:HASH`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (seq, hash) = s
            .split_once(':')
            .ok_or_else(|| format!("expected SEQ:HASH, got {s:?}"))?;
        let seq = seq
            .parse()
            .map_err(|_| format!("not a sequence number: {seq:?}"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("not a SHA-256 hex hash: {hash:?}"));
        }
        Ok(Self {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// How the chain is broken at an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BreakKind {
    /// The entry's stored hash is not the hash of its contents: it was edited.
    HashMismatch,
    /// The entry's `prev_hash` is not the previous entry's hash: an entry
    /// before it was edited (and re-hashed) or replaced.
    PrevMismatch,
    /// The sequence numbers jump or repeat: an entry was removed or inserted.
    SeqGap,
    /// The stored record cannot be read as an entry.
    Unreadable,
    /// Entries are missing at the end (compared with the store's head record
    /// or the expected head given to `verify`).
    Truncated,
    /// The store's head record names an earlier entry than the last one, or
    /// another hash: entries were added or the head edited outside the store.
    HeadMismatch,
}

impl BreakKind {
    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HashMismatch => "hash-mismatch",
            Self::PrevMismatch => "prev-mismatch",
            Self::SeqGap => "seq-gap",
            Self::Unreadable => "unreadable",
            Self::Truncated => "truncated",
            Self::HeadMismatch => "head-mismatch",
        }
    }
}

/// The first broken entry of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// Sequence number of the broken entry (for an unreadable record or a
    /// truncation: the sequence number expected there).
    pub seq: u64,
    /// How it is broken.
    pub kind: BreakKind,
    /// A human-readable explanation.
    pub detail: String,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "entry {}: {}: {}",
            self.seq,
            self.kind.as_str(),
            self.detail
        )
    }
}

/// The result of walking a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Number of entries read.
    pub entries: u64,
    /// The last intact entry's seq and hash (`None` if there is none).
    pub head: Option<ChainHead>,
    /// The first broken entry, if any; `None` means the chain is intact.
    pub first_break: Option<ChainBreak>,
}

impl ChainReport {
    /// True when no break was found.
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// A stored record that could not be read as an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Where it is (file and line, or table and key).
    pub location: String,
    /// Why it cannot be read.
    pub detail: String,
}

/// Walks entries in stored order and reports the first break: an unreadable
/// record, a gap in `seq`, a `prev_hash` that is not the previous hash, or a
/// hash that does not match the contents. With `stored_head` (the backend's
/// own head record) or `expected` (a head noted earlier), it also detects
/// entries removed from the end.
pub fn verify_chain(
    records: impl IntoIterator<Item = Result<Entry, Unreadable>>,
    stored_head: Option<&ChainHead>,
    expected: Option<&ChainHead>,
) -> ChainReport {
    let mut count = 0u64;
    let mut head: Option<ChainHead> = None;
    let mut expected_seen = false;
    let report = |entries, head, br| ChainReport {
        entries,
        head,
        first_break: br,
    };
    for rec in records {
        count += 1;
        let want_seq = head.as_ref().map_or(1, |h| h.seq + 1);
        let prev = head.as_ref().map_or(GENESIS_HASH, |h| h.hash.as_str());
        let e = match rec {
            Ok(e) => e,
            Err(u) => {
                let br = ChainBreak {
                    seq: want_seq,
                    kind: BreakKind::Unreadable,
                    detail: format!("{}: {}", u.location, u.detail),
                };
                return report(count, head, Some(br));
            }
        };
        let br = if e.seq != want_seq {
            let detail = if e.seq > want_seq {
                format!(
                    "expected entry {want_seq}, found {}: entries removed",
                    e.seq
                )
            } else {
                format!(
                    "expected entry {want_seq}, found {} again or out of order",
                    e.seq
                )
            };
            Some((BreakKind::SeqGap, detail))
        } else if e.prev_hash != prev {
            Some((
                BreakKind::PrevMismatch,
                format!(
                    "prev_hash {} is not the hash {} of entry {}",
                    short(&e.prev_hash),
                    short(prev),
                    want_seq.saturating_sub(1)
                ),
            ))
        } else {
            let actual = e.compute_hash();
            (actual != e.hash).then(|| {
                (
                    BreakKind::HashMismatch,
                    format!(
                        "stored hash {} but contents hash to {}: the entry was edited",
                        short(&e.hash),
                        short(&actual)
                    ),
                )
            })
        };
        if let Some((kind, detail)) = br {
            let br = ChainBreak {
                seq: e.seq,
                kind,
                detail,
            };
            return report(count, head, Some(br));
        }
        if let Some(x) = expected
            && x.seq == e.seq
        {
            if x.hash != e.hash {
                let br = ChainBreak {
                    seq: e.seq,
                    kind: BreakKind::HashMismatch,
                    detail: format!(
                        "hash {} differs from the expected head {}: the chain was rewritten",
                        short(&e.hash),
                        short(&x.hash)
                    ),
                };
                return report(count, head, Some(br));
            }
            expected_seen = true;
        }
        head = Some(e.head());
    }
    let last = head.as_ref().map_or(0, |h| h.seq);
    if let Some(s) = stored_head {
        let same = s.seq == last && head.as_ref().is_none_or(|h| h.hash == s.hash);
        if !same {
            let (seq, kind) = if s.seq > last {
                (last + 1, BreakKind::Truncated)
            } else {
                (s.seq.min(last) + 1, BreakKind::HeadMismatch)
            };
            let br = ChainBreak {
                seq,
                kind,
                detail: format!(
                    "the log ends at entry {last}, the store's head record names entry {} ({})",
                    s.seq,
                    short(&s.hash)
                ),
            };
            return report(count, head, Some(br));
        }
    }
    if let Some(x) = expected
        && !expected_seen
        && x.seq > 0
    {
        let br = ChainBreak {
            seq: last + 1,
            kind: BreakKind::Truncated,
            detail: format!(
                "the log ends at entry {last}, the expected head names entry {} ({})",
                x.seq,
                short(&x.hash)
            ),
        };
        return report(count, head, Some(br));
    }
    report(count, head, None)
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

/// Where access-log entries are appended and read back.
#[async_trait::async_trait]
pub trait AccessLog: Send + Sync {
    /// Appends an entry at the head of the chain and returns it as stored.
    /// Safe to call concurrently, also from several processes on one store.
    async fn append(&self, entry: NewEntry) -> Result<Entry, StoreError>;

    /// The entries about one citizen, in chain order.
    async fn entries_for(&self, citizen: &CitizenRef) -> Result<Vec<Entry>, StoreError>;

    /// The entries of one exchange (same request message id), in chain
    /// order — e.g. to log the answer with the request's citizen, purpose
    /// and consent.
    async fn entries_for_request(&self, request_message_id: &str)
    -> Result<Vec<Entry>, StoreError>;

    /// Walks the whole chain (see [`verify_chain`]); `expected` is a head
    /// noted earlier that must still be part of the chain.
    async fn verify(&self, expected: Option<&ChainHead>) -> Result<ChainReport, StoreError>;
}
