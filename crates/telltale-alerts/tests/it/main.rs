//! `telltale-alerts`'s integration tests, one binary: each module was a test
//! binary of its own before, each linking the whole dependency tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dependencies;
mod lifecycle;
mod maintenance;
mod notices;
mod tags;
