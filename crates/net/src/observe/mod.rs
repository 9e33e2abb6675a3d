//! Sockets watched over time: what `sockbox ls --events` and `sockbox top` show.
//!
//! [`events`] subscribes to sock_diag's destroy broadcasts (connections closing, with their
//! final counters) and remembers owners by socket cookie; [`top`] compares two sock_diag dumps
//! one interval apart, keyed by cookie, into rates per process and per connection, Unix pairs
//! with their queues, and listeners with their accept queues. Nothing here prints.

pub mod events;
pub mod exporter;
pub mod metrics;
pub mod top;
