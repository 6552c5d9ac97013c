//! Routes of the integrations (docs/integrations.md): Genetec's camera import and alarm log.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::config::Integration;
use domain::genetec::WebSdk;
use domain::messages::GalleryObject;
use domain::models::{GenetecAlarm, NewCamera};
use domain::schema::{camera_groups, cameras, genetec_alarms};
use domain::{ApiError, ErrorCode};
use futures_util::FutureExt;
use serde_json::{Value, json};

use super::pagination::{self as p, ListPage};
use crate::auth::{AuthUser, Role};
use crate::state::AppState;

/// Lists Security Center's cameras through the Web SDK and creates each one not imported before
/// (by logical ID) in the camera group GENETEC.CAMERA_GROUP (created if missing). Cameras already
/// imported are left as they are, so running it again only adds what is new.
#[utoipa::path(post, path = "/integrations/genetec/import-cameras/", tag = "integrations",
    responses((status = 200, description = "`{group, created, existing}`: the group's id and how many cameras were created or already there", body = Object),
              (status = 404, description = "the genetec integration is off", body = ApiError),
              (status = 503, description = "the Web SDK did not answer or refused", body = ApiError)))]
pub async fn post_import_genetec_cameras(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    if !state.config.integration_on(Integration::Genetec) {
        return Err(ApiError::new(ErrorCode::NotFound, "the genetec integration is not in INTEGRATIONS"));
    }
    let settings = &state.config.genetec;
    let sdk = WebSdk::new(settings).map_err(ApiError::internal)?;
    let listed = sdk.cameras().await.map_err(|e| {
        tracing::warn!(error = %e, "Genetec camera import: {e}");
        ApiError::unavailable(format!("Security Center's Web SDK: {e}"))
    })?;
    let mut conn = state.conn().await?;
    // Group names are not unique: the oldest group of that name is the one.
    let existing: Option<i64> = camera_groups::table
        .filter(camera_groups::name.eq(&settings.camera_group))
        .order(camera_groups::id)
        .select(camera_groups::id)
        .first(&mut conn)
        .await
        .optional()
        .map_err(ApiError::internal)?;
    let group = match existing {
        Some(id) => id,
        None => diesel::insert_into(camera_groups::table)
            .values((
                camera_groups::name.eq(&settings.camera_group),
                camera_groups::comment.eq("Security Center cameras (created by the Genetec camera import)"),
            ))
            .returning(camera_groups::id)
            .get_result(&mut conn)
            .await
            .map_err(ApiError::internal)?,
    };
    let mut created = Vec::new();
    for camera in &listed {
        let name = if camera.name.trim().is_empty() {
            format!("Genetec camera {}", camera.logical_id)
        } else {
            camera.name.clone()
        };
        let row = NewCamera {
            name,
            comment: format!("Security Center camera {}", camera.guid),
            url: String::new(),
            active: true,
            group_id: group,
            external_detector_token: super::cameras::new_token(),
            confidence_threshold: None,
            roi: String::new(),
            stream_settings: json!({}),
            genetec_camera: Some(camera.logical_id),
        };
        // The partial unique index on genetec_camera makes a second import a no-op per camera.
        let id: Option<i64> = diesel::insert_into(cameras::table)
            .values(row)
            .on_conflict_do_nothing()
            .returning(cameras::id)
            .get_result(&mut conn)
            .await
            .optional()
            .map_err(ApiError::internal)?;
        created.extend(id);
    }
    drop(conn);
    state.announce(GalleryObject::CameraGroup, group).await;
    for id in &created {
        state.announce(GalleryObject::Camera, *id).await;
    }
    crate::video_manager::kick(&state);
    tracing::info!(user.id = user.id, created = created.len(), "imported {} Genetec cameras", created.len());
    Ok(HttpResponse::Ok()
        .json(json!({"group": group, "created": created.len(), "existing": listed.len() - created.len()})))
}

fn alarm_view(alarm: &GenetecAlarm) -> Value {
    let a = &alarm.row;
    json!({
        "id": alarm.id, "event": a.event_id, "camera": a.camera_id, "dossier": a.dossier_id, "attempt": a.attempt,
        "outcome": a.outcome, "status": a.response_status, "error": a.error, "duration_ms": a.duration_ms,
        "created_date": alarm.created_date,
    })
}

/// The Genetec alarm log, newest first: every attempt (`sent`, `failed`, `gave_up`) and every
/// alarm held back by the rate limit (`rate_limited`). Readable with the integration off too.
#[utoipa::path(get, path = "/integrations/genetec/alarms/", tag = "integrations",
    params(("limit" = Option<i64>, Query, description = "1..1000, default 20"),
           ("cursor" = Option<i64>, Query, description = "the last id of the previous page"),
           ("outcome" = Option<String>, Query, description = "sent, failed, gave_up or rate_limited")),
    responses((status = 200, description = "log rows, newest first", body = ListPage),
              (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_genetec_alarms(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let pairs = p::query_pairs(&req)?;
    let limit = p::limit(&pairs)?;
    let cursor: Option<i64> = p::parse_one(&pairs, "cursor")?;
    let outcome: Option<String> = p::parse_one(&pairs, "outcome")?;
    let filtered = move || {
        let mut q = genetec_alarms::table.into_boxed();
        if let Some(o) = &outcome {
            q = q.filter(genetec_alarms::outcome.eq(o.clone()));
        }
        q
    };
    let mut page = filtered();
    if let Some(c) = cursor {
        page = page.filter(genetec_alarms::id.lt(c));
    }
    let count_query = filtered().count();
    let (count, mut rows) = p::snapshot(&state, move |conn| {
        async move {
            let count: i64 = count_query.get_result(conn).await?;
            let rows: Vec<GenetecAlarm> = page
                .order(genetec_alarms::id.desc())
                .limit(limit + 1)
                .select(GenetecAlarm::as_select())
                .load(conn)
                .await?;
            Ok((count, rows))
        }
        .boxed()
    })
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next =
        more.then(|| rows.last().map(|r| p::url_with(&state, &req, &pairs, "cursor", &r.id.to_string()))).flatten();
    Ok(p::list(count, next, rows.iter().map(alarm_view).collect()))
}
