//! `harness variants`: the variant matrix, and with `--app` where each allocator comes from.

use crate::matrix::Variant;
use comfy_table::Table;

/// Resolves `--app` (if any) and prints the matrix table.
pub fn execute(args: &crate::cli::VariantsArgs) -> anyhow::Result<()> {
    let which = crate::app::Which {
        package: args.package.clone(),
        bin: args.bin.clone(),
    };
    let app = match &args.app {
        Some(app) => Some(crate::app::AppSpec::resolve_with(app, &which, &[])?),
        None => None,
    };
    println!("{}", variants_text(app.as_ref()));
    Ok(())
}

/// The matrix table; with an app, where each variant's allocator comes from (the libc, the
/// crate's feature, or injected at link time).
pub fn variants_text(app: Option<&crate::app::AppSpec>) -> String {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec!["variant", "valid", "default"];
    if app.is_some() {
        header.push("allocator");
    }
    header.push("note");
    table.set_header(header);
    for v in Variant::all() {
        let reason = v.invalid_reason();
        let mut row = vec![
            v.name(),
            if reason.is_none() { "yes" } else { "no" }.to_string(),
            if v.is_default() { "yes" } else { "" }.to_string(),
        ];
        if let Some(app) = app {
            row.push(app.allocator_note(v.allocator).to_string());
        }
        row.push(reason.unwrap_or_default().to_string());
        table.add_row(row);
    }
    let Some(app) = app else {
        return table.to_string();
    };
    let injected: Vec<&str> = crate::matrix::Allocator::ALL
        .iter()
        .filter(|&&a| app.allocator_source(a) == Some(crate::matrix::AllocatorSource::Injected))
        .map(|a| a.name())
        .collect();
    let head = format!("app {} ({})", app.name, app.manifest_path().display());
    let note = match injected.as_slice() {
        [] => String::new(),
        names => format!(
            "\n{} has no {} feature: {} linked into the unchanged crate at build time, from the allocator's C sources (built once per target under target/harness/allocators)",
            app.manifest_path().display(),
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or "),
            match names {
                [one] => format!("{one} is"),
                _ => format!("{} are", names.join(" and ")),
            }
        ),
    };
    format!("{head}\n{table}{note}")
}
