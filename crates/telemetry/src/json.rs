//! The seed's log line: `{"level","message","timestamp","service", ...fields}`.
//!
//! tracing-subscriber's own JSON format nests fields and names keys differently, and the
//! operators' Logs Insights queries (`stats avg(matchTime) by bin(1h)`) read top-level fields, so
//! the line is written here. Span fields (the request id, the route) are merged in, innermost
//! span last, so every line inside a request carries them.

use std::fmt;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as one JSON object per line.
#[derive(Debug, Clone)]
pub struct SeedJson {
    service: String,
}

impl SeedJson {
    pub fn new(service: &str) -> Self {
        Self {
            service: service.to_owned(),
        }
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl<S, N> FormatEvent<S, N> for SeedJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(stored) = extensions.get::<FormattedFields<JsonFields>>()
                    && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(stored)
                {
                    fields.extend(map);
                }
            }
        }
        let mut own = Map::new();
        event.record(&mut Visitor(&mut own));
        let message = own
            .remove("message")
            .unwrap_or(Value::String(String::new()));
        fields.extend(own);

        let mut line = Map::with_capacity(fields.len() + 5);
        line.insert("level".into(), level_name(event.metadata().level()).into());
        line.insert("message".into(), message);
        line.insert(
            "timestamp".into(),
            Utc::now()
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into(),
        );
        line.insert("service".into(), self.service.clone().into());
        for (k, v) in fields {
            line.entry(k).or_insert(v);
        }
        line.entry("target")
            .or_insert_with(|| event.metadata().target().into());
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Collects an event's fields as JSON values, keeping numbers and booleans typed so that
/// queries can aggregate them (`avg(matchTime)` needs a number, not a string).
struct Visitor<'a>(&'a mut Map<String, Value>);

impl Visit for Visitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole chain: "connecting to PostgreSQL: Connection refused".
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        self.0.insert(field.name().into(), text.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
