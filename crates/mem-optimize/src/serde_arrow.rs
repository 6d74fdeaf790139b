//! Serde for Arrow [`DataType`] fields: a type is written as its `Display` string (`"Int64"`,
//! `"Dictionary(Int8, Utf8)"`), the form people read in reports, and read back with arrow's
//! own parser of that form.
//!
//! Use with `#[serde(with = "crate::serde_arrow::data_type")]`.

/// `serialize` / `deserialize` of one [`DataType`](arrow::datatypes::DataType).
pub(crate) mod data_type {
    use arrow::datatypes::DataType;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &DataType, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DataType, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| D::Error::custom(format!("data type {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::DataType;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T(#[serde(with = "super::data_type")] DataType);

    #[test]
    fn types_the_optimizer_produces_round_trip_as_their_display_string() {
        for t in [
            DataType::Int8,
            DataType::UInt64,
            DataType::Float32,
            DataType::Utf8,
            DataType::LargeUtf8,
            DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)),
        ] {
            let json = serde_json::to_string(&T(t.clone())).unwrap();
            assert_eq!(json, format!("\"{t}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), T(t));
        }
    }

    #[test]
    fn an_unknown_type_is_an_error_naming_it() {
        let e = serde_json::from_str::<T>("\"Int7\"").unwrap_err();
        assert!(e.to_string().contains("Int7"), "{e}");
    }
}
