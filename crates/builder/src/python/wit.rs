//! The `wasm-graph:processor@1.1.0` WIT package, built into the binary so that
//! `wasmgraph build` works wherever it is installed. componentize-py reads it
//! from a folder, so [`write_to`] puts a copy in the build folder.

use std::path::Path;

/// `(file name, contents)` of every file in the repository's `wit/` folder.
pub const FILES: &[(&str, &str)] = &[
    ("accumulate.wit", include_str!("../../../../wit/accumulate.wit")),
    ("branch.wit", include_str!("../../../../wit/branch.wit")),
    ("delay.wit", include_str!("../../../../wit/delay.wit")),
    ("filter.wit", include_str!("../../../../wit/filter.wit")),
    ("hybrid-logical-clock.wit", include_str!("../../../../wit/hybrid-logical-clock.wit")),
    ("logger.wit", include_str!("../../../../wit/logger.wit")),
    ("map.wit", include_str!("../../../../wit/map.wit")),
    ("metrics.wit", include_str!("../../../../wit/metrics.wit")),
    ("processor.wit", include_str!("../../../../wit/processor.wit")),
    ("rpc.wit", include_str!("../../../../wit/rpc.wit")),
    ("schema-registry.wit", include_str!("../../../../wit/schema-registry.wit")),
    ("state-store.wit", include_str!("../../../../wit/state-store.wit")),
];

/// Writes the package into `dir` (created if missing), replacing what is there.
pub fn write_to(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The embedded list must follow the repository's `wit/` folder.
    #[test]
    fn embeds_every_wit_file() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".wit"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = super::FILES.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "update crates/builder/src/python/wit.rs");
        for (name, text) in super::FILES {
            assert_eq!(&std::fs::read_to_string(dir.join(name)).unwrap(), text);
        }
    }

    use std::path::Path;
}
