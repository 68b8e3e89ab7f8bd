//! The integration tests: one crate, one module per program.

mod sockstat;
