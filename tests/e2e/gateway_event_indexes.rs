//! The attribute indexes of migration 2026-11-28-000002 are partial and expression indexes, which
//! PostgreSQL uses only for the very expressions in their definition: this test fails when
//! `GET /events/faces/` stops emitting them (an edit of routes/events.rs without the migration).
//! Age ranges filter the `age` column (2026-11-28-000003) and must use its index.
//! Sequential scans are switched off for the test database, so a query that can use the index
//! does; whether it did is read from the index's scan counter.

use std::time::Duration;

use diesel::sql_types::{BigInt, Double, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ffsec_tests::{Stack, TestEnv, wait_until};

/// The events of `ffsec-loadgen seed-events` (gender and age in `features`), fewer of them.
const SEED_EVENTS: &str = include_str!("../src/loadgen/seed_events.sql");

#[derive(diesel::QueryableByName)]
struct Scans {
    #[diesel(sql_type = BigInt)]
    scans: i64,
}

/// Index scans so far of `index` (a partitioned index: the sum over its partitions' indexes).
async fn scans(conn: &mut AsyncPgConnection, index: &str) -> i64 {
    diesel::sql_query(
        "SELECT coalesce(sum(s.idx_scan), 0)::bigint AS scans FROM pg_inherits i \
         JOIN pg_stat_user_indexes s ON s.indexrelid = i.inhrelid WHERE i.inhparent = $1::text::regclass",
    )
    .bind::<Text, _>(index)
    .get_result::<Scans>(conn)
    .await
    .unwrap()
    .scans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_event_list_attribute_filters_use_their_indexes() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let mut conn = env.connect_db().await.unwrap();
    // For every connection opened from now on, gateway-api's included.
    let database = env.config.databases.default.name.clone();
    diesel::sql_query(format!("ALTER DATABASE {database} SET enable_seqscan = off")).execute(&mut conn).await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    diesel::sql_query(SEED_EVENTS)
        .bind::<BigInt, _>(2000)
        .bind::<Double, _>(1.0)
        .bind::<BigInt, _>(4)
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("VACUUM ANALYZE face_events").execute(&mut conn).await.unwrap();
    for (query, index) in [
        ("gender=female", "face_events_female_idx"),
        ("cameras=2&gender=male", "face_events_male_idx"),
        ("age_gte=30&age_lte=40", "face_events_age_idx"),
        ("age_gte=70", "face_events_age_idx"),
        // Neither gender's partial index covers both: the class attributes' expression index does.
        ("gender=female,male", "face_events_attributes_idx"),
    ] {
        let before = scans(&mut conn, index).await;
        let page = stack.get(&format!("/events/faces/?{query}")).await.unwrap();
        assert!(page["count"].as_i64().unwrap() > 0, "{query}: nothing found in the seeded events: {page}");
        // Each backend reports its counters within a second or so of going idle.
        wait_until(&format!("{query} to scan {index}"), Duration::from_secs(20), || async {
            let mut conn = env.connect_db().await.ok()?;
            (scans(&mut conn, index).await > before).then_some(())
        })
        .await
        .unwrap();
    }
    drop(conn);
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
