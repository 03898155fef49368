//! The state store API with its exact call shapes, in an operator crate of
//! its own: a component exports each operator kind once, so this map cannot
//! share a crate with the map of `aio_style.rs`.

mod state_module {
    use wasm_graph_sdk::macros::map_operator;
    use wasm_graph_sdk::state_store::{self, HybridLogicalClock as StateStoreHybridLogicalClock};
    use wasm_graph_sdk::state_store::{SetConditions, SetOptions};

    fn get_lock(name: &str) -> Result<StateStoreHybridLogicalClock, ()> {
        let res = state_store::set(
            name.as_bytes(),
            b"me",
            None,
            None,
            SetOptions {
                conditions: SetConditions::OnlyIfEqualOrDoesNotExist,
                expires: Some(wasm_graph_sdk::state_store::Duration { seconds: 10, nanos: 0 }),
            },
        );
        match res {
            Ok(res) if res.response => res.version.ok_or(()),
            _ => Err(()),
        }
    }

    #[map_operator]
    fn with_state(input: DataModel) -> Result<DataModel, Error> {
        if let Ok(token) = get_lock("lock") {
            let _ = state_store::set(b"k", b"v", None, Some(&token), SetOptions::default());
            let _ = state_store::vdel(b"lock", b"me", None, None);
        }
        match state_store::get(b"k", None).as_ref().map(|value| value.response.as_deref()) {
            Ok(Some(b"v")) | Ok(None) | Ok(Some(_)) => {}
            Err(err) => return Err(Error { message: format!("{err}") }),
        }
        match state_store::del(b"k", None, None) {
            Ok(res) if res.response > 0 => {}
            _ => {}
        }
        Ok(input)
    }
}

fn main() {}
