//! List responses `{count, next_page, results}`; `next_page` is an absolute URL clients follow as is.

use actix_web::{HttpRequest, HttpResponse};
use diesel_async::AsyncPgConnection;
use domain::ApiError;
use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::state::AppState;

/// The paging parameters of the offset-paged lists (for the OpenAPI document; the handlers read
/// them with [`limit`] and [`page`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1..1000, default 20.
    pub limit: Option<i64>,
    /// 1-based, default 1.
    pub page: Option<i64>,
}

/// Every list's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListPage {
    /// How many objects match, over all pages.
    pub count: i64,
    /// The next page's absolute URL; null on the last page.
    pub next_page: Option<String>,
    pub results: Vec<serde_json::Value>,
}

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 1000;

pub use domain::query_params::{QueryPairs, parse_bool, parse_many, parse_one, single, values};

pub fn query_pairs(req: &HttpRequest) -> Result<QueryPairs, ApiError> {
    serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::bad_param("query", format!("invalid query string: {e}")))
}

pub fn limit(pairs: &QueryPairs) -> Result<i64, ApiError> {
    let limit = parse_one::<i64>(pairs, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_param("limit", format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    Ok(limit)
}

/// 1-based page number for offset-paginated resources.
pub fn page(pairs: &QueryPairs) -> Result<i64, ApiError> {
    let page = parse_one::<i64>(pairs, "page")?.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::bad_param("page", "page must be 1 or more"));
    }
    Ok(page)
}

/// This request's URL with `key` set to `value` (and any other paging key dropped).
pub fn url_with(state: &AppState, req: &HttpRequest, pairs: &QueryPairs, key: &str, value: &str) -> String {
    let mut next: QueryPairs =
        pairs.iter().filter(|(k, _)| k != key && k != "page" && k != "cursor").cloned().collect();
    next.push((key.to_string(), value.to_string()));
    let query = serde_urlencoded::to_string(&next).unwrap_or_default();
    format!("{}{}?{query}", state.config.external_base(), req.path())
}

pub fn list<T: Serialize>(count: i64, next_page: Option<String>, results: Vec<T>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"count": count, "next_page": next_page, "results": results}))
}

/// An offset-paginated list response.
pub fn offset_list<T: Serialize>(
    state: &AppState,
    req: &HttpRequest,
    pairs: &QueryPairs,
    count: i64,
    page: i64,
    limit: i64,
    results: Vec<T>,
) -> HttpResponse {
    let next = (page * limit < count).then(|| url_with(state, req, pairs, "page", &(page + 1).to_string()));
    list(count, next, results)
}

/// Runs a list's reads — its `count`, its page and whatever the page's rows need — in one read-only
/// REPEATABLE READ transaction, so that they all see one snapshot. Two statements on their own
/// would each see the rows committed by their own start: a row created between the count and the
/// page would be on the page but not in the count (or, deleted, in the count but not on the page).
/// A read-only transaction takes no row locks and never fails to serialize, so this costs two round
/// trips (BEGIN, COMMIT) and nothing else. `read` returns its future boxed (`async move {..}.boxed()`)
/// because the future borrows the connection and must be `Send`, which a bare async closure cannot
/// promise yet.
pub async fn snapshot<T, F>(state: &AppState, read: F) -> Result<T, ApiError>
where
    T: Send,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, diesel::QueryResult<T>> + Send,
{
    let mut conn = state.conn().await?;
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, diesel::result::Error, _>(async move |conn| read(conn).await)
        .await
        .map_err(ApiError::internal)
}

/// A whole table as an offset-paginated list in id order: `count`, the page's rows rendered by
/// `$view`, counted and read from one [`snapshot`]. The same few lines for every plain resource,
/// written once.
macro_rules! list_table {
    ($state:expr, $req:expr, $table:ident, $model:ty, $view:expr) => {{
        let pairs = $crate::routes::pagination::query_pairs($req)?;
        let (limit, page) = ($crate::routes::pagination::limit(&pairs)?, $crate::routes::pagination::page(&pairs)?);
        let (count, rows): (i64, Vec<$model>) = $crate::routes::pagination::snapshot($state, move |conn| {
            futures_util::FutureExt::boxed(async move {
                let count: i64 = $table::table.count().get_result(conn).await?;
                let rows = $table::table
                    .order($table::id)
                    .limit(limit)
                    .offset((page - 1) * limit)
                    .select(<$model>::as_select())
                    .load(conn)
                    .await?;
                Ok((count, rows))
            })
        })
        .await?;
        let results: Vec<serde_json::Value> = rows.iter().map($view).collect();
        Ok($crate::routes::pagination::offset_list($state, $req, &pairs, count, page, limit, results))
    }};
}
pub(crate) use list_table;
