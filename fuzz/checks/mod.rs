//! The properties the fuzz targets and the proptest suite both check, so a
//! finding of either is a regression test of the other. Included by path:
//! `fuzz/fuzz_targets/*.rs` and `tests/it/props.rs`. One file per domain;
//! each builds its well-formed input itself, never with the parsers'
//! helpers.
//!
//! Each check panics when a property breaks (that is how libFuzzer and
//! proptest learn of it); the code under test must never panic by itself.
#![allow(dead_code)]

pub mod addr;
pub mod draw;
pub mod escape;
pub mod netlink;
pub mod procnet;
pub mod records;
pub mod transcript;
