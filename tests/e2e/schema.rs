//! `crates/domain/src/schema.rs` must be what `diesel print-schema` prints for the migrated
//! database: every table's columns, in their order. (Types are checked by the models loading rows in
//! the other tests.)

use diesel::QueryDsl;
use diesel_async::RunQueryDsl;
use domain::schema::*;
use ffsec_tests::TestEnv;

/// Column names of a diesel table, read from the SQL diesel generates for `SELECT *`.
macro_rules! diesel_columns {
    ($table:ident) => {{
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&$table::table.select($table::all_columns)).to_string();
        let select = sql.split(" FROM ").next().unwrap().trim_start_matches("SELECT ");
        let columns: Vec<String> =
            select.split(", ").map(|c| c.rsplit('.').next().unwrap().trim_matches('"').to_string()).collect();
        (stringify!($table), columns)
    }};
}

#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_rs_matches_the_migrated_database() {
    let env = TestEnv::new().await.unwrap();
    let pool = domain::db::pool(&env.config).unwrap();
    domain::db::run_migrations(&pool).await.unwrap();
    let mut conn = env.connect_db().await.unwrap();
    let tables = [
        diesel_columns!(api_tokens),
        diesel_columns!(camera_groups),
        diesel_columns!(cameras),
        diesel_columns!(detection_photos),
        diesel_columns!(detections),
        diesel_columns!(dossier_faces),
        diesel_columns!(dossier_list_members),
        diesel_columns!(dossier_lists),
        diesel_columns!(dossiers),
        diesel_columns!(event_vectors),
        diesel_columns!(face_events),
        diesel_columns!(genetec_alarms),
        diesel_columns!(hooks),
        diesel_columns!(users),
        diesel_columns!(video_manager_jobs),
        diesel_columns!(webhook_deliveries),
    ];
    for (table, columns) in &tables {
        let in_db: Vec<String> = diesel::sql_query(
            "SELECT column_name::text AS column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<diesel::sql_types::Text, _>(*table)
        .load::<Column>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.column_name)
        .collect();
        assert_eq!(&in_db, columns, "schema.rs is out of date for table {table}: run diesel print-schema");
    }
    let all: Vec<String> = diesel::sql_query(
        "SELECT table_name::text AS column_name FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_type = 'BASE TABLE' AND table_name NOT LIKE '%\\_default' AND table_name <> '__diesel_schema_migrations' \
         ORDER BY table_name",
    )
    .load::<Column>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|c| c.column_name)
    .collect();
    let known: Vec<String> = tables.iter().map(|(t, _)| t.to_string()).collect();
    assert_eq!(all, known, "a table is missing from schema.rs");
    drop(conn);
    drop(pool);
    env.cleanup().await.unwrap();
}

/// Replicas starting together (rolling upgrade, `--scale gateway-api=N`) all run the migrations:
/// the advisory lock lets exactly one apply them and the others find none pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_apply_once() {
    let env = TestEnv::new().await.unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let pool = domain::db::pool_for_url(&env.config.database_url(), 1).unwrap();
            tokio::spawn(async move { domain::db::run_migrations(&pool).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap().unwrap_or_else(|e| panic!("a concurrent migration run failed: {e:#}")));
    }
    let total =
        diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&domain::db::MIGRATIONS).unwrap().len();
    applied.sort_unstable();
    assert_eq!(applied, vec![0, 0, 0, total], "one run applies every migration, the others none");
    env.cleanup().await.unwrap();
}
