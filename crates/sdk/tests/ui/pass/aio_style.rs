//! Operator code written the way Azure IoT Operations' samples use their SDK:
//! several kinds in one crate, each in its own module; WIT types by bare name in
//! helper functions beside the annotated one; the host APIs with their exact
//! call shapes.

mod map_module {
    use wasm_graph_sdk::logger::{self, Level};
    use wasm_graph_sdk::macros::map_operator;
    use wasm_graph_sdk::metrics::{self, CounterValue, HistogramValue, Label};

    fn my_init(configuration: ModuleConfiguration) -> bool {
        for (key, value) in configuration.properties {
            logger::log(Level::Info, "m/map", &format!("{key}={value}"));
        }
        for schema in configuration.module_schemas {
            logger::log(Level::Info, "m/map", &format!("{schema:?}"));
        }
        true
    }

    fn describe(message: &Message) -> String {
        match &message.schema {
            Some(MessageSchema::RegistryReference(BufferOrString::Buffer(b))) => format!("{:?}", b.read()),
            Some(MessageSchema::RegistryReference(BufferOrString::String(s))) => s.clone(),
            Some(MessageSchema::Inline(inline)) => format!("{:?}", inline.name),
            None => String::new(),
        }
    }

    #[map_operator(init = "my_init")]
    fn my_map(input: DataModel) -> Result<DataModel, Error> {
        let labels = vec![Label { key: "module".to_owned(), value: "m/map".to_owned() }];
        let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels));
        let _ = metrics::record_to_histogram("size", HistogramValue::F64(1.5), None);
        let DataModel::Message(mut result) = input else {
            return Err(Error { message: "Unexpected input type".to_string() });
        };
        let _ = describe(&result);
        let payload = &result.payload.read();
        result.payload = BufferOrBytes::Bytes(payload.clone());
        for (key, value) in &mut result.properties.user_properties {
            if let BufferOrString::String(k) = key {
                if k == "x" {
                    *value = BufferOrString::String("y".to_owned());
                }
            }
        }
        Ok(DataModel::Message(result))
    }
}

mod filter_module {
    use wasm_graph_sdk::macros::filter_operator;

    #[filter_operator]
    fn my_filter(input: DataModel) -> Result<bool, Error> {
        Ok(matches!(input, DataModel::Message(_)))
    }
}

mod branch_module {
    use wasm_graph_sdk::macros::branch_operator;

    #[branch_operator]
    fn my_branch(_timestamp: HybridLogicalClock, input: DataModel) -> Result<bool, Error> {
        Ok(matches!(input, DataModel::Snapshot(_)))
    }
}

mod accumulate_module {
    use wasm_graph_sdk::macros::accumulate_operator;

    #[accumulate_operator]
    fn my_accumulate(staged: DataModel, inputs: Vec<DataModel>) -> Result<DataModel, Error> {
        let DataModel::Message(mut result) = staged else {
            return Err(Error { message: "Unexpected input type".to_string() });
        };
        let staged_payload = match &result.payload {
            BufferOrBytes::Buffer(buffer) => buffer.read(),
            BufferOrBytes::Bytes(bytes) => bytes.clone(),
        };
        result.payload = BufferOrBytes::Bytes(staged_payload);
        result.timestamp.timestamp.secs = inputs.len() as u64;
        Ok(DataModel::Message(result))
    }
}

mod delay_module {
    use wasm_graph_sdk::macros::delay_operator;

    #[delay_operator(init = "delay_init")]
    fn delay(input: DataModel, timestamp: HybridLogicalClock) -> Result<HybridLogicalClock, Error> {
        let mut time = match input {
            DataModel::Message(message) => message.timestamp.timestamp,
            DataModel::Snapshot(frame) => frame.timestamp.timestamp,
            DataModel::BufferOrBytes(_) => timestamp.timestamp,
        };
        let time_duration = Duration::from(time);
        time = (time_duration + Duration::from_millis(10)).into();
        let mut timestamp = timestamp;
        timestamp.timestamp = time;
        timestamp.counter = 0;
        Ok(timestamp)
    }

    fn delay_init(_configuration: ModuleConfiguration) -> bool {
        true
    }
}

fn main() {}
