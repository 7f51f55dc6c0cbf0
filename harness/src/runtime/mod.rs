//! Running variants: the `Runtime` trait, with docker (bollard) and native implementations.

pub mod docker_client;
