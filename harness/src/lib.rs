//! The harness library: everything `harness` does, callable in-process by tests.
//!
//! `run` takes parsed arguments, turns them into a checked plan (`plan`), and only then acts:
//! builds (`build`), runs (`runtime`), measures (`measure`), records (`results`) and reports
//! (`report`). `main.rs` only parses and prints the error.
//!
//! Module map, from the top down: a module imports only from its own layer or the layers
//! below it, and no two top-level modules import each other.
//!
//! | layer | modules | what they own |
//! |---|---|---|
//! | commands | `commands` | one module per subcommand: arguments → plan → act → print (all printing is here) |
//! | features | `runner`, `bench`, `buildtime`, `profiler`, `check`, `fresh_node`, `agent`, `doctor`, `cleanup`, `compare`, `report` | what a subcommand does, from a plan or from results files |
//! | planning | `plan` | arguments → checked, typed plans (`run`, `build`, `bench`, `calibrate`, `profile`, `check`) before any side effect |
//! | arguments | `cli` | clap structs, typed where the choice is closed |
//! | parts | `build`, `measure`, `app`, `export`, `profiles`, `upstream` | compiling and images; probes, load, statistics; the app's own description; CSV and JSON exporters; profile files; the HTTPS upstream an app may call |
//! | foundations | `runtime`, `results`, `matrix`, `environment`, `labels`, `lock`, `owner`, `progress`, `digest`, `error` | the `Runtime` trait (docker, native, and the fake the tests select with `GLIBC_VS_MUSL_FAKE_BACKEND`) and CPU placement; the published result types; variants; the daemon's labels; the run lock |

pub mod agent;
pub mod app;
pub mod bench;
pub mod build;
pub mod buildtime;
pub mod check;
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
pub mod upstream;

pub use commands::run;
pub use error::exit_code;
