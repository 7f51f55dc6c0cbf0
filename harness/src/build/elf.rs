//! ELF facts of a built binary: static or dynamic, its interpreter and needed libraries.
//!
//! Read with goblin so no `file` or `ldd` is needed. The distroless image is assembled from
//! exactly these facts.

use anyhow::Context;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFacts {
    pub bytes: u64,
    pub is_static: bool,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
}

pub fn inspect(path: &Path) -> anyhow::Result<ElfFacts> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let elf = goblin::elf::Elf::parse(&data)
        .with_context(|| format!("{} is not an ELF binary", path.display()))?;
    let interpreter = elf.interpreter.map(str::to_string);
    let needed: Vec<String> = elf.libraries.iter().map(|s| s.to_string()).collect();
    Ok(ElfFacts {
        bytes: data.len() as u64,
        is_static: interpreter.is_none() && needed.is_empty(),
        interpreter,
        needed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_is_dynamic_with_an_interpreter() {
        let me = std::env::current_exe().unwrap();
        let facts = inspect(&me).unwrap();
        assert!(!facts.is_static);
        assert!(facts.interpreter.unwrap().contains("ld-linux"));
        assert!(facts.needed.iter().any(|l| l.starts_with("libc.so")));
    }

    #[test]
    fn a_text_file_is_not_elf() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"#!/bin/sh\n").unwrap();
        assert!(inspect(f.path())
            .unwrap_err()
            .to_string()
            .contains("not an ELF"));
    }
}
