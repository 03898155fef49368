//! Embeds the SDK's sources (wasm_graph_sdk and wasm_graph_sdk_macros, as this
//! checkout has them) into the builder, so that `wasmgraph new` can vendor the
//! SDK into an operator crate created anywhere (see `src/rust/sdk.rs`). Writes
//! `$OUT_DIR/sdk_sources.rs`: the workspace manifest and, per crate, its
//! manifest and every file under the listed folders, as `include_bytes!`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// (package name, folder relative to this crate, folders of it to embed).
const CRATES: &[(&str, &str, &[&str])] =
    &[("wasm_graph_sdk_macros", "../sdk-macros", &["src"]), ("wasm_graph_sdk", "../sdk", &["src", "wit"])];

fn main() {
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root_manifest = here.join("../../Cargo.toml");
    println!("cargo:rerun-if-changed={}", root_manifest.display());
    let mut out = String::new();
    writeln!(out, "pub(crate) const WORKSPACE_MANIFEST: &str = include_str!({:?});", path_text(&root_manifest))
        .unwrap();
    out.push_str("pub(crate) const CRATES: &[EmbeddedCrate] = &[\n");
    for (name, dir, folders) in CRATES {
        let dir = here.join(dir);
        let manifest = dir.join("Cargo.toml");
        println!("cargo:rerun-if-changed={}", manifest.display());
        writeln!(
            out,
            "    EmbeddedCrate {{\n        name: {name:?},\n        manifest: include_str!({:?}),\n        files: &[",
            path_text(&manifest)
        )
        .unwrap();
        for folder in *folders {
            let folder = dir.join(folder);
            println!("cargo:rerun-if-changed={}", folder.display());
            let mut files = Vec::new();
            collect(&folder, &mut files);
            files.sort();
            for file in files {
                let relative = file.strip_prefix(&dir).expect("collected under dir");
                let relative = relative.to_str().expect("SDK file names are UTF-8").replace('\\', "/");
                writeln!(out, "            ({relative:?}, include_bytes!({:?})),", path_text(&file)).unwrap();
            }
        }
        out.push_str("        ],\n    },\n");
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("sdk_sources.rs"), out).expect("cannot write sdk_sources.rs");
}

/// Every file under `dir`, recursively (none when it does not exist).
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.is_file() {
            files.push(path);
        }
    }
}

fn path_text(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|err| panic!("cannot resolve {}: {err}", path.display()));
    path.to_str().expect("the checkout's path is UTF-8").to_owned()
}
