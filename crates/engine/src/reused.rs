//! A value per language, read from the store and reused until it is too old.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::LanguageCode;

#[derive(Debug)]
pub(crate) struct Reused<V> {
    entries: Mutex<HashMap<LanguageCode, (DateTime<Utc>, V)>>,
    max_age: TimeDelta,
}

impl<V: Clone> Reused<V> {
    pub(crate) fn new(max_age: TimeDelta) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_age,
        }
    }

    /// The value of `language` if it was read less than `max_age` before `now` (and not after
    /// it: a clock set back reads again).
    pub(crate) fn get(&self, language: LanguageCode, now: DateTime<Utc>) -> Option<V> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&language)
            .filter(|(read_at, _)| now >= *read_at && now - *read_at < self.max_age)
            .map(|(_, value)| value.clone())
    }

    pub(crate) fn put(&self, language: LanguageCode, read_at: DateTime<Utc>, value: V) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(language, (read_at, value));
    }

    /// The value of `language` at `now`: the one held if young enough, or else what `read`
    /// returns, kept from now on.
    pub(crate) async fn get_or_read<E, Fut>(
        &self,
        language: LanguageCode,
        now: DateTime<Utc>,
        read: impl FnOnce() -> Fut,
    ) -> Result<V, E>
    where
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(language, now) {
            return Ok(value);
        }
        let value = read().await?;
        self.put(language, now, value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_serves_until_it_is_too_old_or_the_clock_goes_back() {
        let reused = Reused::new(TimeDelta::seconds(5));
        let es = LanguageCode::parse("es").expect("a valid code");
        let t0 = DateTime::<Utc>::from_timestamp(1_760_000_000, 0).expect("a valid instant");
        assert_eq!(reused.get(es, t0), None);
        reused.put(es, t0, 7);
        assert_eq!(reused.get(es, t0 + TimeDelta::seconds(4)), Some(7));
        assert_eq!(reused.get(es, t0 + TimeDelta::seconds(5)), None);
        assert_eq!(reused.get(es, t0 - TimeDelta::seconds(1)), None);
    }
}
