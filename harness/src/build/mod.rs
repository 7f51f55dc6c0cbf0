//! Building variants: cargo builds, ELF facts, image contexts and base-image provisioning.
