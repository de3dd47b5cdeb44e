//! The guides' Rust code, compiled by `cargo test` (the test command runs it): each item
//! below exists only under `cfg(doctest)` and has a guide as its documentation, so every
//! ```` ```rust ```` block of that guide is a doc test. A guide that no longer compiles
//! against the crates it describes fails the test command. Blocks that serve forever are
//! marked `no_run` (compiled, not run).

/// README.md
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct Readme;

/// docs/server.md
#[cfg(doctest)]
#[doc = include_str!("../../../docs/server.md")]
pub struct ServerGuide;

/// docs/cluster.md
#[cfg(doctest)]
#[doc = include_str!("../../../docs/cluster.md")]
pub struct ClusterGuide;

/// docs/browser-client.md
#[cfg(doctest)]
#[doc = include_str!("../../../docs/browser-client.md")]
pub struct BrowserClientGuide;

/// docs/bounds.md
#[cfg(doctest)]
#[doc = include_str!("../../../docs/bounds.md")]
pub struct BoundsGuide;
