//! Sockeye's browser client. The wasm driver arrives with the client issue; for now the
//! crate only proves that the shared protocol crate links into it.

pub use sockeye_protocol as protocol;
