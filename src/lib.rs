//! sockkit: the classic C `utils.h` socket lesson (`init_socket`,
//! `bind_socket`, `connect_socket`) on rustix raw fds, with every syscall
//! checked, and the programs built on it: `sockd`, `sockc`, `sockstat`,
//! `sockbench`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod addr;
pub mod bench;
pub mod cli;
pub mod client;
pub mod decimal;
pub mod endpoint;
pub mod errno;
pub mod error;
pub mod escape;
pub mod exit;
pub mod io;
pub mod resolve;
pub mod server;
pub mod slab;
pub mod socket;
pub mod sockstat;
pub mod transcript;

pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use exit::Exit;
pub use socket::{bind_socket, connect_socket, init_socket};
