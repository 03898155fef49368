//! The error type: one problem in a graph definition, with its place in the file.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::Pos;

/// Which validation rule a problem breaks. Stable: tests and tools may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The file cannot be read, is not UTF-8, is empty, or is not well-formed YAML.
    Syntax,
    /// A key that the format does not have.
    UnknownKey,
    /// The same key twice in one mapping.
    DuplicateKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong type (a number where a string is needed, a list where a mapping is).
    WrongType,
    /// A value of the right type that is not allowed (an empty name).
    InvalidValue,
    /// `operationType` is not one of the eight types.
    UnknownOperationType,
    /// Two operations with one name.
    DuplicateOperationName,
    /// Two schemas with one name.
    DuplicateSchemaName,
    /// `apiVersion` or `runtimeVersion` this runtime does not implement.
    UnsupportedVersion,
    /// A connection names an operation that does not exist.
    UnknownNode,
    /// A connection into a source.
    ConnectionIntoSource,
    /// A connection out of a sink.
    ConnectionFromSink,
    /// `arm` on an operation that is not a branch.
    ArmOnNonBranch,
    /// A connection out of a branch without `arm`.
    BranchOutputWithoutArm,
    /// A branch arm with no connection.
    BranchArmNotConnected,
    /// A branch arm with more than one connection.
    BranchArmConnectedTwice,
    /// A non-branch operation connected to more than one target.
    MultipleOutputs,
    /// A non-concatenate operation fed by more than one connection.
    MultipleInputs,
    /// The connections form a cycle.
    Cycle,
    /// An operation that no source feeds.
    Unreachable,
    /// An operation (not a sink) whose output goes nowhere.
    OutputNotConnected,
    /// No source operation.
    MissingSource,
    /// No sink operation.
    MissingSink,
    /// map, filter, branch, accumulate or delay without `module`.
    ModuleMissing,
    /// source, sink or concatenate with a non-empty `module`.
    ModuleNotAllowed,
    /// `schemaName` names no entry of `schemas`.
    UnknownSchema,
    /// A `moduleConfigurations` entry names no operation.
    UnknownConfiguredOperation,
    /// Two `moduleConfigurations` entries for one operation.
    DuplicateConfiguration,
    /// A required parameter with neither a value nor a default.
    MissingRequiredParameter,
    /// A module reference the module catalog cannot resolve.
    UnresolvedModule,
    /// A module that does not export the interface its operation type needs.
    MissingExport,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 32] = [
        Rule::Syntax,
        Rule::UnknownKey,
        Rule::DuplicateKey,
        Rule::MissingKey,
        Rule::WrongType,
        Rule::InvalidValue,
        Rule::UnknownOperationType,
        Rule::DuplicateOperationName,
        Rule::DuplicateSchemaName,
        Rule::UnsupportedVersion,
        Rule::UnknownNode,
        Rule::ConnectionIntoSource,
        Rule::ConnectionFromSink,
        Rule::ArmOnNonBranch,
        Rule::BranchOutputWithoutArm,
        Rule::BranchArmNotConnected,
        Rule::BranchArmConnectedTwice,
        Rule::MultipleOutputs,
        Rule::MultipleInputs,
        Rule::Cycle,
        Rule::Unreachable,
        Rule::OutputNotConnected,
        Rule::MissingSource,
        Rule::MissingSink,
        Rule::ModuleMissing,
        Rule::ModuleNotAllowed,
        Rule::UnknownSchema,
        Rule::UnknownConfiguredOperation,
        Rule::DuplicateConfiguration,
        Rule::MissingRequiredParameter,
        Rule::UnresolvedModule,
        Rule::MissingExport,
    ];

    /// A short kebab-case name of the rule, e.g. `unknown-key`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::UnknownKey => "unknown-key",
            Rule::DuplicateKey => "duplicate-key",
            Rule::MissingKey => "missing-key",
            Rule::WrongType => "wrong-type",
            Rule::InvalidValue => "invalid-value",
            Rule::UnknownOperationType => "unknown-operation-type",
            Rule::DuplicateOperationName => "duplicate-operation-name",
            Rule::DuplicateSchemaName => "duplicate-schema-name",
            Rule::UnsupportedVersion => "unsupported-version",
            Rule::UnknownNode => "unknown-node",
            Rule::ConnectionIntoSource => "connection-into-source",
            Rule::ConnectionFromSink => "connection-from-sink",
            Rule::ArmOnNonBranch => "arm-on-non-branch",
            Rule::BranchOutputWithoutArm => "branch-output-without-arm",
            Rule::BranchArmNotConnected => "branch-arm-not-connected",
            Rule::BranchArmConnectedTwice => "branch-arm-connected-twice",
            Rule::MultipleOutputs => "multiple-outputs",
            Rule::MultipleInputs => "multiple-inputs",
            Rule::Cycle => "cycle",
            Rule::Unreachable => "unreachable",
            Rule::OutputNotConnected => "output-not-connected",
            Rule::MissingSource => "missing-source",
            Rule::MissingSink => "missing-sink",
            Rule::ModuleMissing => "module-missing",
            Rule::ModuleNotAllowed => "module-not-allowed",
            Rule::UnknownSchema => "unknown-schema",
            Rule::UnknownConfiguredOperation => "unknown-configured-operation",
            Rule::DuplicateConfiguration => "duplicate-configuration",
            Rule::MissingRequiredParameter => "missing-required-parameter",
            Rule::UnresolvedModule => "unresolved-module",
            Rule::MissingExport => "missing-export",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One problem in a graph definition. `Display` prints `file:line:column: message`;
/// the message is a sentence that says what is wrong and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}:{}: {}", .file.display(), .line, .column, .message)]
#[non_exhaustive]
pub struct Error {
    /// The graph definition file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The rule broken.
    pub rule: Rule,
    /// The operation concerned, where there is one.
    pub operation: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Error {
    pub(crate) fn new(file: &Path, pos: Pos, rule: Rule, message: impl Into<String>) -> Self {
        Error {
            file: file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            rule,
            operation: None,
            message: message.into(),
        }
    }

    pub(crate) fn with_operation(mut self, operation: &str) -> Self {
        self.operation = Some(operation.to_string());
        self
    }
}

/// Every problem found in one graph definition, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Error>);

impl Errors {
    /// The problems.
    pub fn as_slice(&self) -> &[Error] {
        &self.0
    }
}

impl std::ops::Deref for Errors {
    type Target = [Error];
    fn deref(&self) -> &[Error] {
        &self.0
    }
}

impl IntoIterator for Errors {
    type Item = Error;
    type IntoIter = std::vec::IntoIter<Error>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// Collects problems for one file.
pub(crate) struct Diagnostics {
    pub file: PathBuf,
    pub list: Vec<Error>,
}

impl Diagnostics {
    pub fn new(file: &Path) -> Self {
        Diagnostics { file: file.to_path_buf(), list: Vec::new() }
    }

    pub fn push(&mut self, pos: Pos, rule: Rule, message: impl Into<String>) {
        self.list.push(Error::new(&self.file, pos, rule, message));
    }

    pub fn push_op(&mut self, pos: Pos, rule: Rule, operation: &str, message: impl Into<String>) {
        self.list.push(Error::new(&self.file, pos, rule, message).with_operation(operation));
    }

    /// The collected problems sorted by position (stable for one position), or `Ok`.
    pub fn finish(mut self) -> Result<(), Errors> {
        if self.list.is_empty() {
            return Ok(());
        }
        self.list.sort_by_key(|e| (e.line, e.column));
        Err(Errors(self.list))
    }
}
