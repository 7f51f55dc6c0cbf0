//! The harness library: everything `harness` does, callable in-process by tests.
//!
//! `run` takes parsed arguments, turns them into a checked plan (`plan`), and only then acts:
//! builds (`build`), runs (`runtime`), measures (`measure`), records (`results`) and reports
//! (`report`). `main.rs` only parses and prints the error.

pub mod agent;
pub mod app;
pub mod bench;
pub mod build;
pub mod cleanup;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod digest;
pub mod doctor;
pub mod environment;
pub mod error;
pub mod export;
pub mod fresh_node;
pub mod labels;
pub mod lock;
pub mod matrix;
pub mod measure;
pub mod owner;
pub mod plan;
pub mod profiler;
pub mod profiles;
pub mod progress;
pub mod report;
pub mod results;
pub mod runner;
pub mod runtime;

pub use commands::run;
pub use error::exit_code;
