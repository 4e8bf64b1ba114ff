//! What the CloudWatch Embedded Metric Format specification requires of a document, checked
//! member by member. CloudWatch drops a malformed document without a word (the line stays a log
//! event, the metric never appears), so the tests check every line we write against this.
//!
//! The rules (specification, "Embedded Metric Format Specification"): the root has an `_aws`
//! object with `Timestamp` (milliseconds since the epoch, an integer) and `CloudWatchMetrics`, an
//! array of directives; each directive has `Namespace` (1 to 1024 characters), `Dimensions` (an
//! array of dimension sets, each an array of at most 30 names) and `Metrics` (at most 100
//! definitions, each with `Name` and optionally a `Unit` from CloudWatch's list and a
//! `StorageResolution` of 1 or 60). Every dimension named is a top-level member holding a string;
//! every metric named is a top-level member holding a number or an array of at most 100 numbers.

use serde_json::Value;

/// The units CloudWatch accepts.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Ok if `doc` is a valid EMF document; otherwise the first rule it breaks.
pub fn check(doc: &Value) -> Result<(), String> {
    let root = doc.as_object().ok_or("the document is not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    match aws.get("Timestamp") {
        Some(Value::Number(n)) if n.as_u64().is_some() => {}
        _ => return Err("_aws.Timestamp is not a non-negative integer of milliseconds".into()),
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    for directive in directives {
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("a directive has no Namespace string")?;
        if namespace.is_empty() || namespace.len() > 1024 {
            return Err(format!(
                "Namespace {namespace:?} is not 1 to 1024 characters"
            ));
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("a directive has no Dimensions array")?;
        for set in sets {
            let names = set.as_array().ok_or("a dimension set is not an array")?;
            if names.len() > 30 {
                return Err("a dimension set has more than 30 dimensions".into());
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                match root.get(name) {
                    Some(Value::String(_)) => {}
                    _ => return Err(format!("dimension {name} is not a top-level string")),
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("a directive has no Metrics array")?;
        if metrics.len() > 100 {
            return Err("a directive defines more than 100 metrics".into());
        }
        for metric in metrics {
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && n.len() <= 1024)
                .ok_or("a metric definition has no valid Name")?;
            if let Some(unit) = metric.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                return Err(format!("metric {name} has an invalid Unit {unit}"));
            }
            if let Some(resolution) = metric.get("StorageResolution")
                && !matches!(resolution.as_u64(), Some(1 | 60))
            {
                return Err(format!(
                    "metric {name} has a StorageResolution other than 1 or 60"
                ));
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if !values.is_empty()
                        && values.len() <= 100
                        && values.iter().all(Value::is_number) => {}
                _ => {
                    return Err(format!(
                        "metric {name} is not a top-level number or array of 1 to 100 numbers"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::check;

    #[test]
    fn breaches_of_the_specification_are_named() {
        let good = json!({
            "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Dragoman",
                "Dimensions": [["ServiceName"]], "Metrics": [{"Name": "MatchTime", "Unit": "Milliseconds"}]}]},
            "ServiceName": "api", "MatchTime": [1.5, 2.0]
        });
        assert_eq!(check(&good), Ok(()));
        let mut broken = good.clone();
        broken["ServiceName"] = json!(3);
        assert!(check(&broken).is_err(), "a dimension must be a string");
        let mut broken = good.clone();
        broken.as_object_mut().map(|o| o.remove("MatchTime"));
        assert!(check(&broken).is_err(), "a metric must be present");
        let mut broken = good.clone();
        broken["_aws"]["Timestamp"] = json!("2025-01-01T00:00:00Z");
        assert!(check(&broken).is_err(), "the timestamp is milliseconds");
        let mut broken = good.clone();
        broken["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("ms");
        assert!(check(&broken).is_err(), "units come from CloudWatch's list");
        let mut broken = good;
        broken["MatchTime"] = json!(vec![1; 101]);
        assert!(check(&broken).is_err(), "at most 100 values");
    }
}
