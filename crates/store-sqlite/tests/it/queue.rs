//! The job queue suite on the embedded store, and its job effects recorded exactly once.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use dragoman_ports::{JobEffects, JobQueue, ManualClock, SessionSummary};
use dragoman_store_sqlite::SqliteStore;

async fn fresh() -> (SqliteStore, Arc<ManualClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&dir.path().join("dragoman.db"))
        .await
        .expect("open");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("instant"),
    ));
    (store, clock, dir)
}

dragoman_conformance::queue_suite!({
    let (store, clock, dir) = fresh().await;
    (
        Arc::new(store.queue(clock.clone())) as Arc<dyn JobQueue>,
        clock,
        dir,
    )
});

#[tokio::test]
async fn a_summary_is_written_once_however_often_its_job_runs() {
    let (store, _clock, _dir) = fresh().await;
    let at = Utc
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("instant");
    let summary = SessionSummary {
        session_id: uuid::Uuid::now_v7(),
        language: "fr".into(),
        started_at: at,
        ended_at: at + chrono::TimeDelta::minutes(5),
        duration_ms: 300_000,
        match_time_ms: 1_200,
    };
    assert!(
        store
            .record_session_summary("k1", &summary)
            .await
            .expect("first")
    );
    assert!(
        !store
            .record_session_summary("k1", &summary)
            .await
            .expect("again")
    );
    assert_eq!(store.session_summary_count().await.expect("count"), 1);
}
