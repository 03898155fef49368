//! Modules: each `module:` reference resolves in the catalog, and the component
//! it resolves to exports the interface its operation type needs.

use std::collections::HashMap;
use std::path::PathBuf;

use super::names::Operations;
use crate::catalog::ModuleCatalog;
use crate::error::{Diagnostics, Rule};
use crate::model::{Operation, OperatorKind, Spanned};

/// Each reference's file (`None`: it did not resolve).
pub(super) type ModulePaths<'a> = HashMap<&'a str, Option<PathBuf>>;

/// What a component exports, or why that cannot be read; read once per file.
type Exports = HashMap<PathBuf, Result<Vec<OperatorKind>, String>>;

/// Resolves the module of every operation that runs one and checks its
/// exports, reporting each problem; returns where each reference resolved to.
pub(super) fn check_modules<'a>(
    ops: &Operations<'a>,
    catalog: &dyn ModuleCatalog,
    d: &mut Diagnostics,
) -> ModulePaths<'a> {
    let mut paths = ModulePaths::new();
    let mut exports = Exports::new();
    for &op in ops.list() {
        let (Some(kind), Some(module)) = (op.operation_type.value.operator_kind(), &op.module) else {
            continue;
        };
        resolve(op, module, ops, catalog, &mut paths, d);
        let Some(Some(path)) = paths.get(module.value.as_str()) else {
            continue;
        };
        let found = exports.entry(path.clone()).or_insert_with(|| catalog.exports(path));
        match found {
            Ok(kinds) if kinds.contains(&kind) => {}
            Ok(kinds) => report_missing_export(op, module, kind, path, kinds, d),
            Err(why) => {
                // Reported once per file, at its first use.
                if first_user_of(path, ops, &paths) == Some(op.name.value.as_str()) {
                    d.push_op(
                        module.pos,
                        Rule::MissingExport,
                        op.name.value.as_str(),
                        format!("module `{}` cannot be inspected: {why}", module.value),
                    );
                }
            }
        }
    }
    paths
}

/// Resolves `module` (once per reference), reporting one that cannot be found
/// with every operation that uses it.
fn resolve<'a>(
    op: &Operation,
    module: &'a Spanned<String>,
    ops: &Operations<'a>,
    catalog: &dyn ModuleCatalog,
    paths: &mut ModulePaths<'a>,
    d: &mut Diagnostics,
) {
    let reference = module.value.as_str();
    if paths.contains_key(reference) {
        return;
    }
    match catalog.resolve(reference) {
        Ok(p) => {
            paths.insert(reference, Some(p));
        }
        Err(why) => {
            let users: Vec<&str> = ops
                .list()
                .iter()
                .filter(|o| o.module.as_ref().is_some_and(|m| m.value == reference))
                .map(|o| o.name.value.as_str())
                .collect();
            d.push_op(
                module.pos,
                Rule::UnresolvedModule,
                op.name.value.as_str(),
                format!("module `{reference}` (used by {}) cannot be found: {why}", users.join(", ")),
            );
            paths.insert(reference, None);
        }
    }
}

fn report_missing_export(
    op: &Operation,
    module: &Spanned<String>,
    kind: OperatorKind,
    path: &std::path::Path,
    kinds: &[OperatorKind],
    d: &mut Diagnostics,
) {
    let name = op.name.value.as_str();
    let has = if kinds.is_empty() {
        "no operator interface".to_string()
    } else {
        kinds.iter().map(|k| k.export_name()).collect::<Vec<_>>().join(", ")
    };
    d.push_op(
        module.pos,
        Rule::MissingExport,
        name,
        format!(
            "module `{}` ({}) does not export `{}`, which {} operation `{name}` needs (it exports {has}); add a #[{kind}_operator] to the module or pick a module that has one",
            module.value,
            path.display(),
            kind.export_name(),
            op.operation_type.value
        ),
    );
}

/// The name of the first operation (in file order) whose module resolved to `path`.
fn first_user_of<'a>(path: &std::path::Path, ops: &Operations<'a>, paths: &ModulePaths<'_>) -> Option<&'a str> {
    ops.list()
        .iter()
        .find(|o| {
            o.module.as_ref().is_some_and(|m| paths.get(m.value.as_str()).cloned().flatten().as_deref() == Some(path))
        })
        .map(|o| o.name.value.as_str())
}
