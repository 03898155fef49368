//! Reading a `type:`-tagged section of a deployment file (`source`, `sink`,
//! an endpoint) without losing where each key was written.
//!
//! serde's own internally tagged enums buffer the whole section before they
//! look at the tag, and the YAML reader then can no longer say on which line
//! an unknown key sits. Here the section is read as it streams: `type`, when
//! present, must be the first key (it decides which keys are valid); without
//! it the registry's default connector applies. Every other key and value goes
//! straight to the chosen connector's settings struct, so its errors keep
//! their line and column.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::Deserializer;

/// A section whose variant is chosen by its `type` key.
pub(crate) trait Tagged: Sized {
    /// What the section is, for messages (`source`, `endpoint`).
    const WHAT: &'static str;
    /// The `type` values the registry knows.
    const TYPES: &'static [&'static str];
    /// The type when the section has no `type` key.
    const DEFAULT: Option<&'static str>;
    /// Read the rest of the section as the settings of connector `tag`.
    fn from_map<'de, A: MapAccess<'de>>(tag: &str, rest: RestOfMap<'de, A>) -> Result<Self, A::Error>;
}

/// Deserialize a [`Tagged`] section.
pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: Tagged>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} section (a mapping with `type: {}` first)", T::WHAT, T::TYPES.join(" | "))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let first: Option<String> = map.next_key()?;
        let (tag, pending) = match first {
            Some(key) if key == "type" || key == "endpointType" => (canonical(map.next_value::<String>()?), None),
            other => match T::DEFAULT {
                Some(default) => (default.to_string(), other),
                None => return Err(de::Error::custom(format!("{}: give `type:` first", T::WHAT))),
            },
        };
        if !T::TYPES.contains(&tag.as_str()) {
            return Err(de::Error::unknown_variant(&tag, T::TYPES));
        }
        T::from_map(&tag, RestOfMap { map, pending, tag: tag.clone(), what: T::WHAT, _de: PhantomData })
    }
}

/// Other spellings of `type` values: AIO's `endpointType` names (`Mqtt`,
/// `Kafka`, `OpenTelemetry`) and `opentelemetry` for `otel`.
fn canonical(tag: String) -> String {
    match tag.as_str() {
        "Mqtt" => "mqtt".into(),
        "Kafka" => "kafka".into(),
        "opentelemetry" | "OpenTelemetry" => "otel".into(),
        _ => tag,
    }
}

/// The section's keys after `type`, as a map of their own.
pub(crate) struct RestOfMap<'de, A> {
    map: A,
    /// A key already read while looking for `type`.
    pending: Option<String>,
    tag: String,
    what: &'static str,
    _de: PhantomData<&'de ()>,
}

impl<'de, A: MapAccess<'de>> RestOfMap<'de, A> {
    /// Deserialize the rest as `T` (a connector's settings struct).
    pub fn into<T: serde::Deserialize<'de>>(self) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(self))
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RestOfMap<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let key = match self.pending.take() {
            Some(key) => key,
            None => match self.map.next_key::<String>()? {
                Some(key) => key,
                None => return Ok(None),
            },
        };
        if key == "type" || key == "endpointType" {
            return Err(de::Error::custom(format!(
                "{}: `type` must be the first key of the section (it decides which keys are valid; `{}` was assumed)",
                self.what, self.tag
            )));
        }
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}
