//! Routes of the integrations (docs/integrations.md): Genetec's camera import.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::config::Integration;
use domain::genetec::WebSdk;
use domain::messages::GalleryObject;
use domain::models::NewCamera;
use domain::schema::{camera_groups, cameras};
use domain::{ApiError, ErrorCode};
use serde_json::json;

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
