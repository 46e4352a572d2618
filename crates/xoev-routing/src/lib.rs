//! The routing model of the XÖV gateway.
//!
//! Three kinds of TOML file in one directory (by default `routing/`):
//!
//! - `authorities.toml` — the authority directory (DVDV-like): who exists,
//!   their inbox queue, certificate, contact, and which municipalities they
//!   serve per service ([`Directory`]);
//! - `access.toml` — which sender may send which message type to which
//!   recipient ([`Router::check_access`]); everything else is denied;
//! - every other `*.toml` — routing rules ([`Rule`]): match on message type,
//!   standard, version, sender and reader, resolve the recipient (the header's
//!   reader, the authority responsible for the case's municipality, or a fixed
//!   authority) and name the adapter chain.
//!
//! [`Router::load`] reads and checks all of it and reports *every* problem
//! at once, each with file and line. [`Router::route`] then decides, without
//! any I/O, where a message goes.
//!
//! This crate does no I/O besides reading its configuration files.

mod access;
mod directory;
mod error;
mod router;
mod rules;
mod source;

pub use access::AccessRule;
pub use directory::{Ags, Authority, Directory, SERVICE_PLACEHOLDER_PREFIX};
pub use error::{ConfigError, ConfigErrorKind, ConfigErrors, NearMiss, RouteError, RouteErrorKind};
pub use router::{Resolution, RouteDecision, RouteInput, Router};
pub use rules::{Cond, Recipient, Rule, same_message_type};
pub use source::{Location, Source};
