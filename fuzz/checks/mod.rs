//! The properties the fuzz targets and the proptest suite both check, so a
//! finding of either is a regression test of the other. Included by path:
//! `fuzz/fuzz_targets/*.rs` and `tests/it/props.rs`. One file per domain;
//! each builds its well-formed input itself, never with the parsers'
//! helpers. Shared by the sockstat domains: [`draw`] (fuzz bytes read as
//! values) and [`records`] (what any parsed record must be). A new domain
//! is a new file and a `pub mod` line here (or, for more properties of one
//! parser, more functions in its file).
//!
//! Each check panics when a property breaks (that is how libFuzzer and
//! proptest learn of it); the code under test must never panic by itself.
#![allow(dead_code)]

pub mod addr;
pub mod draw;
pub mod escape;
pub mod links;
pub mod netlink;
pub mod procnet;
pub mod records;
pub mod transcript;
