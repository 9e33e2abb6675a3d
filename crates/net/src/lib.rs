//! sockbox-net: everything sockbox does with sockets, as a library.
//!
//! Data flows one way: a parsed [`addr::Address`] is opened by [`endpoint`] into a
//! [`endpoint::Conn`] (or a [`endpoint::Listener`] that yields them), and [`relay`] copies
//! between two of them. Nothing here prints: results come back as data, and what happens on the
//! way is reported as `tracing` events under three targets the binary decides how to show:
//! [`CALL`] (each socket call, for `-v`), [`PEER`] (peers coming and going) and plain
//! warnings.
#![forbid(unsafe_code)]

pub mod addr;
pub mod bench;
pub mod broker;
pub mod compat;
pub mod doctor;
pub mod endpoint;
pub mod error;
pub mod fault;
pub mod fdpass;
pub mod frame;
pub mod http;
pub mod inspect;
pub mod message;
pub mod observe;
pub mod peer;
pub mod ping;
pub mod relay;
pub mod scan;
pub mod server;
pub mod tap;

pub use error::{Error, Result};

/// `tracing` target of the narration of socket calls (`sockbox -v`).
pub const CALL: &str = "sockbox::call";
/// `tracing` target of peer arrivals and departures.
pub const PEER: &str = "sockbox::peer";

/// Narrate one socket call: `narrate!("bind({})", path)`. Shown by `sockbox -v`.
#[macro_export]
macro_rules! narrate {
    ($($arg:tt)*) => { ::tracing::info!(target: "sockbox::call", $($arg)*) };
}
