//! `telltale-store`'s integration tests, one binary: each module was a test
//! binary of its own before, each linking the whole dependency tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod budget;
mod cache;
mod chunks;
mod minutes;
mod payloads;
mod permissions;
mod reading;
mod retention;
mod settings;
mod throughput;
mod values;
mod writing;
