//! Reference data rules read that no source fetches: the ISO 3166 country
//! and subdivision codes, from the `rust_iso3166` crate (ISO 3166-1 and
//! ISO 3166-2), under the `countries` root.
//!
//! `countries` maps every ISO 3166-1 alpha-2 code (upper case) to its
//! country; each country's `subdivisions` maps the ISO 3166-2 code without
//! the country prefix (`CA` for `US-CA`) to the subdivision, so a rule can
//! ask whether `countries[newCustomer.customerAddress.country]` exists and
//! whether its `subdivisions[newCustomer.customerAddress.state]` does.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// A country of ISO 3166-1.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Country {
    /// The alpha-2 code, `US`.
    pub alpha2: String,
    /// The alpha-3 code, `USA`.
    pub alpha3: String,
    /// The English short name.
    pub name: String,
    /// The ISO 3166-2 subdivisions by their code without the country
    /// prefix (`CA` for `US-CA`); empty for a country without any.
    pub subdivisions: BTreeMap<String, Subdivision>,
}

/// A subdivision of ISO 3166-2.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subdivision {
    /// The full code, `US-CA`.
    pub code: String,
    /// The name, `California`.
    pub name: String,
    /// What kind of subdivision it is (`State`, `Province`, …).
    #[serde(rename = "type")]
    pub kind: String,
}

/// Every country by alpha-2 code.
pub fn countries() -> &'static BTreeMap<String, Country> {
    &COUNTRIES
}

/// The `countries` root: [`countries`] as JSON (built once per process).
pub fn countries_value() -> &'static Value {
    &COUNTRIES_VALUE
}

static COUNTRIES: LazyLock<BTreeMap<String, Country>> = LazyLock::new(|| {
    rust_iso3166::ALL
        .iter()
        .map(|c| {
            let alpha2 = c.alpha2.to_owned();
            let prefix = format!("{alpha2}-");
            let subdivisions = c
                .subdivisions()
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    let key = s.code.strip_prefix(&prefix).unwrap_or(s.code).to_owned();
                    let sub = Subdivision {
                        code: s.code.to_owned(),
                        name: s.name.to_owned(),
                        kind: s.subdivision_type.to_owned(),
                    };
                    (key, sub)
                })
                .collect();
            let country = Country {
                alpha2: alpha2.clone(),
                alpha3: c.alpha3.to_owned(),
                name: c.name.to_owned(),
                subdivisions,
            };
            (alpha2, country)
        })
        .collect()
});

static COUNTRIES_VALUE: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(&*COUNTRIES).unwrap_or(Value::Null));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alpha2_code_and_the_subdivisions_addresses_use() {
        let c = countries();
        assert_eq!(c.len(), 249, "ISO 3166-1 has 249 alpha-2 codes");
        assert!(c.contains_key("NO") && c.contains_key("NZ") && !c.contains_key("UK"));
        let us = &c["US"];
        assert_eq!(us.alpha3, "USA");
        assert_eq!(us.subdivisions["CA"].code, "US-CA");
        assert_eq!(us.subdivisions["CA"].name, "California");
        assert!(us.subdivisions.contains_key("DC") && us.subdivisions.contains_key("PR"));
        assert!(!us.subdivisions.contains_key("XX"));
        assert!(c["CA"].subdivisions.contains_key("QC"));
        assert!(c["AU"].subdivisions.contains_key("NSW"));
        let v = countries_value();
        assert_eq!(v["US"]["subdivisions"]["NY"]["type"], "State");
    }
}
