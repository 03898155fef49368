//! The native operator the engine's integration tests build graphs from.

use wasmgraph_engine::{Failure, Operator, OperatorFactory};
use wasmgraph_types::{DataModel, Hlc, Record};

/// A native map's logic.
pub type MapFn = fn(&Record) -> Result<DataModel, Failure>;

/// One native operator: closures per kind, only the node's kind is used.
#[derive(Clone, Default)]
pub struct Native {
    pub map: Option<MapFn>,
    pub keep: Option<fn(&Record) -> bool>,
    pub arm: Option<fn(&Record) -> bool>,
    pub fold: Option<fn(DataModel, &[Record]) -> DataModel>,
    pub delay: Option<fn(&Record) -> Hlc>,
}

impl Operator for Native {
    fn map(&mut self, r: &Record) -> Result<DataModel, Failure> {
        (self.map.unwrap())(r)
    }
    fn filter(&mut self, r: &Record) -> Result<bool, Failure> {
        Ok((self.keep.unwrap())(r))
    }
    fn branch(&mut self, r: &Record) -> Result<bool, Failure> {
        Ok((self.arm.unwrap())(r))
    }
    fn accumulate(&mut self, staged: DataModel, batch: &[Record]) -> Result<DataModel, Failure> {
        Ok((self.fold.unwrap())(staged, batch))
    }
    fn delay(&mut self, r: &Record) -> Result<Hlc, Failure> {
        Ok((self.delay.unwrap())(r))
    }
}

impl OperatorFactory for Native {
    fn create(&self, _worker: usize) -> Result<Box<dyn Operator>, String> {
        Ok(Box::new(self.clone()))
    }
}

pub fn text(r: &Record) -> String {
    String::from_utf8_lossy(r.data.payload()).into_owned()
}
