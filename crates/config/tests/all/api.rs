use std::collections::HashMap;
use std::path::Path;

use wasmgraph_config::{load_graph, Arm, GraphDefinition, OperationType, ParameterValues, Rule};

use crate::util::data;

fn values(op: &str, pairs: &[(&str, &str)]) -> ParameterValues {
    let inner: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    HashMap::from([(op.to_string(), inner)])
}

#[test]
fn complex_graph_shape() {
    let g = load_graph(&data("valid/graph-complex.yaml"), None, &HashMap::new()).unwrap();
    assert_eq!(g.nodes().len(), 15);
    assert_eq!(g.connection_count(), 16);
    assert!(g.has_feature("wasi-nn"));
    // Topological: every edge goes forward.
    let order: Vec<_> = g.topological_order().map(|n| n.id).collect();
    assert_eq!(order.len(), g.nodes().len());
    let pos = |id| order.iter().position(|x| *x == id).unwrap();
    for n in g.nodes() {
        for e in &n.outputs {
            assert!(pos(e.from) < pos(e.to), "{} before its successor", n.name);
            assert_eq!(e.from, n.id);
        }
    }
    assert_eq!(g.topological_order().next().unwrap().kind, OperationType::Source);
    assert_eq!(g.topological_order().last().unwrap().kind, OperationType::Sink);
    // Branch outputs: both arms, "False" first.
    let b = g.find("module-snapshot/branch").unwrap();
    let arms: Vec<_> = b.outputs.iter().map(|e| (e.arm, g.node(e.to).name.as_str())).collect();
    assert_eq!(arms, vec![(Some(Arm::False), "module-temperature/branch"), (Some(Arm::True), "module-format/map")]);
    // The concatenate merges three inputs; a concatenate has no module.
    let c = g.find("concatenate1").unwrap();
    assert_eq!(c.inputs.len(), 3);
    assert!(c.module.is_none());
    assert_eq!(g.sources().count(), 1);
    assert_eq!(g.sinks().count(), 1);
    // Defaults reach init.
    let f = g.find("module-temperature/filter").unwrap();
    assert_eq!(
        f.properties,
        vec![
            ("temperature_lower_bound".to_string(), "-273.15".to_string()),
            ("temperature_upper_bound".to_string(), "5000.0".to_string())
        ]
    );
}

#[test]
fn parameter_values_by_key_or_by_name() {
    let g = load_graph(&data("valid/graph-simple.yaml"), None, &HashMap::new()).unwrap();
    let op = "module-temperature/map";
    // key1 is declared with `name: key2`: no default, not required → nothing.
    assert_eq!(g.init_properties(op, &HashMap::new()).unwrap(), vec![]);
    let by_key = HashMap::from([("key1".to_string(), "a".to_string())]);
    assert_eq!(g.init_properties(op, &by_key).unwrap(), vec![("key1".to_string(), "a".to_string())]);
    let by_name = HashMap::from([("key2".to_string(), "b".to_string())]);
    assert_eq!(g.init_properties(op, &by_name).unwrap(), vec![("key1".to_string(), "b".to_string())]);
    // Undeclared values are passed on, after the declared ones.
    let extra = HashMap::from([
        ("zeta".to_string(), "1".to_string()),
        ("key2".to_string(), "b".to_string()),
        ("alpha".to_string(), "2".to_string()),
    ]);
    assert_eq!(
        g.init_properties(op, &extra).unwrap(),
        vec![("key1".into(), "b".into()), ("alpha".into(), "2".into()), ("zeta".into(), "1".into())]
    );
    // Values given at validation end up in the node.
    let g = load_graph(&data("valid/graph-simple.yaml"), None, &values(op, &[("key2", "c")])).unwrap();
    assert_eq!(g.find(op).unwrap().properties, vec![("key1".to_string(), "c".to_string())]);
    assert_eq!(g.init_properties("nope", &HashMap::new()).unwrap_err().rule, Rule::UnknownNode);
}

#[test]
fn required_parameter_satisfied_by_a_value() {
    let file = data("invalid/missing-required-parameter.yaml");
    let err = load_graph(&file, None, &HashMap::new()).unwrap_err();
    assert_eq!(err[0].rule, Rule::MissingRequiredParameter);
    assert_eq!(err[0].operation.as_deref(), Some("convert"));
    assert!(err[0].message.contains("--param convert.target_unit=VALUE"), "{}", err[0]);
    // Given under its name (`unit`) it is fine, and init receives it under its key.
    let g = load_graph(&file, None, &values("convert", &[("unit", "celsius")])).unwrap();
    assert_eq!(g.find("convert").unwrap().properties, vec![("target_unit".to_string(), "celsius".to_string())]);
    // The definition alone can answer too.
    let def = GraphDefinition::load(&file).unwrap();
    assert!(def.init_properties("convert", &HashMap::new()).is_err());
}

#[test]
fn schemas_reach_the_receiving_operation() {
    let g = load_graph(&data("valid/graph-schemas.yaml"), None, &HashMap::new()).unwrap();
    for op in ["validate", "annotate"] {
        let s = g.module_schemas(op);
        assert_eq!(s.len(), 1, "{op}");
        assert_eq!(s[0].name, "sensor");
        assert_eq!(s[0].content_type, "application/schema+json");
        assert!(s[0].content.contains("\"temperature\""));
    }
    assert!(g.module_schemas("sink").is_empty());
    assert_eq!(g.find("validate").unwrap().inputs[0].schema.as_deref(), Some("sensor"));
    // required: true with a default is satisfied by the default.
    assert_eq!(g.find("validate").unwrap().properties, vec![("strict".to_string(), "true".to_string())]);
    assert_eq!(wasmgraph_config::content_type_for_format("Delta/1.0"), "application/delta");
    assert_eq!(wasmgraph_config::content_type_for_format("application/x-custom"), "application/x-custom");
}

#[test]
fn errors_print_file_line_column_message_and_collect_everything() {
    let text = "metadata:\n  name: x\n  version: 1\n  colour: red\nmoduleRequirements:\n  apiVersion: \"9\"\n  runtimeVersion: \"1.1.0\"\noperations:\n  - {operationType: mapp, name: a}\n  - {operationType: map, name: b, modul: m}\nconnections: []\n";
    let errors = GraphDefinition::parse(text, Path::new("g.yaml")).unwrap_err();
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 5, "{shown:#?}");
    assert!(shown[0].starts_with("g.yaml:1:1: `metadata` has no `$schema`"), "{shown:#?}");
    assert!(shown[1].starts_with("g.yaml:3:12: `metadata.version` must be a string"), "{shown:#?}");
    assert!(shown[2].starts_with("g.yaml:4:3: unknown key `colour`"), "{shown:#?}");
    assert!(shown[3].starts_with("g.yaml:9:21: unknown operationType `mapp`; did you mean `map`?"), "{shown:#?}");
    assert!(shown[4].starts_with("g.yaml:10:35: unknown key `modul`"), "{shown:#?}");
    // The whole list prints one error per line.
    assert_eq!(errors.to_string().lines().count(), 5);
}
