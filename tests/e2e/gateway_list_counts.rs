//! Every `{count, next_page, results}` list reads its `count` and its page from one snapshot
//! (`routes::pagination::snapshot`): a row created while the list is read is in both or in neither.
//! Rows are inserted straight into PostgreSQL by a writer on its own connection, as fast as it can,
//! while the list is read over and over: with the count and the page in two statements, a row
//! committed between them shows on the page but not in the count.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ffsec_tests::env::IdRow;
use ffsec_tests::{Stack, TestEnv};
use serde_json::Value;
use tokio::sync::watch;

/// Rows each writer adds: few enough that a whole list fits on one page of 1000.
const WRITES: usize = 400;
/// A list read while its writer ran at least this often, or the test proved nothing.
const MIN_OVERLAPPING_READS: usize = 10;
/// The writer waits for a read to finish after every this many rows, so that however slow the
/// reads are on a loaded machine, more than `MIN_OVERLAPPING_READS` of them begin before its last
/// row is written.
const ROWS_PER_READ: usize = WRITES / (MIN_OVERLAPPING_READS + 1);
/// Small pages for the walk through the whole list, so it takes many of them.
const WALK_LIMIT: usize = 7;

/// A list and how a row of it is created (`$1` is a number unique in the run).
struct Resource {
    path: String,
    table: &'static str,
    insert: String,
}

fn resources(dossier: i64, hook: i64) -> Vec<Resource> {
    let r = |path: &str, table: &'static str, insert: &str| Resource {
        path: path.to_string(),
        table,
        insert: insert.to_string(),
    };
    vec![
        r("/cameras/", "cameras", "INSERT INTO cameras (name, external_detector_token) VALUES ('c' || $1, 't' || $1)"),
        r("/camera-groups/", "camera_groups", "INSERT INTO camera_groups (name) VALUES ('g' || $1)"),
        r("/dossier-lists/", "dossier_lists", "INSERT INTO dossier_lists (name) VALUES ('l' || $1)"),
        r("/dossiers/", "dossiers", "INSERT INTO dossiers (name) VALUES ('d' || $1)"),
        r(
            "/dossier-faces/",
            "dossier_faces",
            &format!("INSERT INTO dossier_faces (dossier_id, embedding) VALUES ({dossier}, ARRAY[$1::real])"),
        ),
        r(
            "/objects/faces/",
            "dossier_faces",
            &format!("INSERT INTO dossier_faces (dossier_id, embedding) VALUES ({dossier}, ARRAY[$1::real])"),
        ),
        r(
            "/hooks/",
            "hooks",
            "INSERT INTO hooks (name, url, secret) VALUES ('h' || $1, 'http://127.0.0.1:9/', 'whsec_x')",
        ),
        r(
            "/users/",
            "users",
            "INSERT INTO users (username, password_hash, role) VALUES ('u' || $1, 'not-a-hash', 'viewer')",
        ),
        r(
            &format!("/hooks/{hook}/deliveries/"),
            "webhook_deliveries",
            &format!(
                "INSERT INTO webhook_deliveries (hook_id, message_id, event_ids, attempt, success, duration_ms) \
                 VALUES ({hook}, 'msg_' || $1, '{{}}', 1, true, 1)"
            ),
        ),
        r(
            "/integrations/genetec/alarms/",
            "genetec_alarms",
            "INSERT INTO genetec_alarms (event_id, camera_id, dossier_id, attempt, outcome) \
             VALUES (gen_random_uuid(), 1, $1, 1, 'sent')",
        ),
    ]
}

async fn get(stack: &Stack, url: &str) -> Value {
    let response =
        stack.client.get(url).header("Authorization", format!("Token {}", stack.token)).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "GET {url}: {status} {body}");
    body
}

fn ids(page: &Value) -> Vec<i64> {
    page["results"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

/// Inserts `WRITES` rows one statement (and commit) at a time, counting them in `written`. After
/// each `ROWS_PER_READ` rows it waits until one more read than before has finished (`reads` counts
/// them), and keeps writing while that read runs: the race stays, only the proportion of writes
/// to reads is bounded.
async fn write(
    mut conn: AsyncPgConnection,
    insert: String,
    first: i64,
    mut reads: watch::Receiver<usize>,
    written: Arc<AtomicUsize>,
) {
    for (i, n) in (first..first + WRITES as i64).enumerate() {
        if i > 0 && i % ROWS_PER_READ == 0 {
            let seen = *reads.borrow_and_update();
            reads.wait_for(|&done| done > seen).await.unwrap();
        }
        diesel::sql_query(&insert).bind::<BigInt, _>(n).execute(&mut conn).await.unwrap();
        written.store(i + 1, Ordering::SeqCst);
    }
}

async fn rows_in(conn: &mut AsyncPgConnection, resource: &Resource) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    // Every delivery is the one hook's, so each list is a whole table.
    diesel::sql_query(format!("SELECT count(*) AS count FROM {}", resource.table))
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .count
}

/// Follows `next_page` from the first page of `limit` rows to the last; every row's id.
async fn walk(stack: &Stack, path: &str) -> (i64, Vec<i64>) {
    let mut url = stack.gateway.url(&format!("{path}?limit={WALK_LIMIT}"));
    let first = get(stack, &url).await;
    let count = first["count"].as_i64().unwrap();
    let mut seen = ids(&first);
    let mut page = first;
    while let Some(next) = page["next_page"].as_str() {
        url = next.to_string();
        page = get(stack, &url).await;
        assert_eq!(page["count"].as_i64().unwrap(), count, "{url}: the count changed while nothing was written");
        seen.extend(ids(&page));
    }
    (count, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_list_counts_and_pages_from_one_snapshot() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let mut conn = env.connect_db().await.unwrap();
    let dossier = diesel::sql_query("INSERT INTO dossiers (name) VALUES ('owner') RETURNING id")
        .get_result::<IdRow>(&mut conn)
        .await
        .unwrap()
        .id;
    let hook = diesel::sql_query(
        "INSERT INTO hooks (name, url, secret, active) VALUES ('log', 'http://127.0.0.1:9/', 'whsec_x', false) \
         RETURNING id",
    )
    .get_result::<IdRow>(&mut conn)
    .await
    .unwrap()
    .id;
    for (i, resource) in resources(dossier, hook).into_iter().enumerate() {
        let (reads_done, reads_seen) = watch::channel(0usize);
        let written = Arc::new(AtomicUsize::new(0));
        let writer = tokio::spawn(write(
            env.connect_db().await.unwrap(),
            resource.insert.clone(),
            (i * WRITES) as i64,
            reads_seen,
            written.clone(),
        ));
        let url = stack.gateway.url(&format!("{}?limit=1000", resource.path));
        let (mut reads, mut overlapping) = (0, 0);
        while !writer.is_finished() {
            // A read begun before the last row was written overlapped the writes.
            if AtomicUsize::load(&written, Ordering::SeqCst) < WRITES {
                overlapping += 1;
            }
            let page = get(&stack, &url).await;
            let count = page["count"].as_i64().unwrap();
            let shown = page["results"].as_array().unwrap().len() as i64;
            // Everything fits on this page, so the count is exactly what it shows.
            assert!(count >= shown, "{}: count {count} < {shown} rows on the page", resource.path);
            assert_eq!(count, shown, "{}: count {count}, but {shown} rows on the only page", resource.path);
            assert!(page["next_page"].is_null(), "{}: a next page after the whole list", resource.path);
            reads += 1;
            reads_done.send_replace(reads);
        }
        writer.await.unwrap();
        eprintln!("{}: {reads} reads, {overlapping} begun while {WRITES} rows were written", resource.path);
        assert!(
            overlapping >= MIN_OVERLAPPING_READS,
            "{}: only {overlapping} reads begun while rows were written",
            resource.path
        );
        // Once writing stopped, paging through shows each row once, and `count` of them.
        let (count, seen) = walk(&stack, &resource.path).await;
        let mut distinct = seen.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), seen.len(), "{}: a row on two pages", resource.path);
        assert_eq!(seen.len() as i64, count, "{}: count {count}, {} rows paging through", resource.path, seen.len());
        assert_eq!(count, rows_in(&mut conn, &resource).await, "{}: count is not the table's", resource.path);
    }
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
