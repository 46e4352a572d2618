//! The XÖV gateway service and command-line tool, as a library so that tests
//! and benchmarks can drive the same code the binary runs.
//!
//! - [`pipeline`]: every stage a message goes through (one place to read);
//! - [`service`]: the consume → process → publish → settle loop;
//! - [`workers`]: the threads the pipeline runs on;
//! - [`assemble`]: builds a pipeline and transport from `gateway.toml`;
//! - [`cases`]: answers matched to requests, message status;
//! - [`trust_reload`]: a changed trust directory (a new CRL) replaces the trust store;
//! - [`demo`]: the whole once-only case on the in-process transport;
//! - [`http`]: the HTTP API (submit, inbox leases, status, health, metrics, citizens);
//! - [`cli`]: the subcommands of the `xoev-gateway` binary;
//! - [`allocator`]: tuning of the binaries' allocator.

pub mod allocator;
pub mod assemble;
pub mod cases;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod peers;
pub mod pipeline;
pub mod routing_check;
pub mod service;
pub mod trust_reload;
pub mod workers;
pub mod xml;
