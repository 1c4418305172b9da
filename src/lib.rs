//! trainlab: classic machine-learning experiments from TOML configs, on Burn.
//!
//! Three families share one launcher: review sentiment with linear classifiers
//! ([`sentiment`]), digit recognition with an MLP or CNN ([`digits`]), and collaborative
//! filtering with Gaussian mixtures fit by EM ([`mixture`]). The shared parts are the config
//! loader ([`config`]), backend selection ([`backend`]), run folders ([`run`]) and the CLI.

pub mod backend;
pub mod cli;
pub mod config;
pub mod digits;
pub mod error;
pub mod experiment;
pub mod interrupt;
pub mod logging;
pub mod mixture;
pub mod plot;
pub mod progress;
pub mod run;
pub mod sentiment;
