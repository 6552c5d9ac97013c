//! Row types of the schema. `schema.rs` is generated; these follow it column by column.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{
    api_tokens, camera_groups, cameras, dossier_faces, dossier_lists, dossiers, event_vectors, face_events,
    genetec_alarms, hooks, users, video_manager_jobs, webhook_deliveries,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = camera_groups)]
pub struct CameraGroup {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = cameras)]
pub struct Camera {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub url: String,
    pub active: bool,
    pub group_id: i64,
    pub external_detector_token: String,
    pub confidence_threshold: Option<f32>,
    pub roi: String,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
    /// Passed through to the camera's video manager job (fps, ffmpeg_params, ...).
    pub stream_settings: serde_json::Value,
    /// Logical ID of the Security Center camera this camera is; None = not linked by itself.
    pub genetec_camera: Option<i32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = cameras)]
pub struct NewCamera {
    pub name: String,
    pub comment: String,
    pub url: String,
    pub active: bool,
    pub group_id: i64,
    pub external_detector_token: String,
    pub confidence_threshold: Option<f32>,
    pub roi: String,
    pub stream_settings: serde_json::Value,
    pub genetec_camera: Option<i32>,
}

/// A row of the Genetec alarm log: what was written, plus its id and time.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = genetec_alarms)]
pub struct GenetecAlarm {
    pub id: i64,
    #[diesel(embed)]
    pub row: NewGenetecAlarm,
    pub created_date: DateTime<Utc>,
}

/// One Genetec alarm attempt, or the decision not to make one (`genetec_alarms`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = genetec_alarms)]
pub struct NewGenetecAlarm {
    pub event_id: Uuid,
    pub camera_id: i64,
    pub dossier_id: i64,
    pub attempt: i32,
    pub outcome: String,
    pub response_status: Option<i32>,
    pub error: String,
    pub duration_ms: i32,
}

/// What the video manager sync knows of one camera's job (`video_manager_jobs`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = video_manager_jobs, treat_none_as_null = true)]
pub struct VideoManagerJob {
    pub camera_id: i64,
    pub synced_modified: Option<DateTime<Utc>>,
    pub status: String,
    pub status_msg: String,
    pub sync_error: String,
    pub checked_date: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = dossier_lists)]
pub struct DossierList {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub color: String,
    pub active: bool,
    pub notify: bool,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = dossier_lists)]
pub struct NewDossierList {
    pub name: String,
    pub comment: String,
    pub color: String,
    pub active: bool,
    pub notify: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = dossiers)]
pub struct Dossier {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = dossiers)]
pub struct NewDossier {
    pub name: String,
    pub comment: String,
    pub active: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = dossier_faces)]
pub struct DossierFace {
    pub id: i64,
    pub dossier_id: i64,
    pub source_photo: String,
    pub thumbnail: String,
    pub embedding: Vec<f32>,
    pub quality: f32,
    pub source_coords_left: Option<i32>,
    pub source_coords_top: Option<i32>,
    pub source_coords_right: Option<i32>,
    pub source_coords_bottom: Option<i32>,
    pub active: bool,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = dossier_faces)]
pub struct NewDossierFace {
    pub dossier_id: i64,
    pub source_photo: String,
    pub thumbnail: String,
    pub embedding: Vec<f32>,
    pub quality: f32,
    /// Where the built-in recognizer found the face in the photo; `None` when the vector came with the request.
    pub source_coords_left: Option<i32>,
    pub source_coords_top: Option<i32>,
    pub source_coords_right: Option<i32>,
    pub source_coords_bottom: Option<i32>,
    pub active: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub active: bool,
    pub created_date: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub active: bool,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken {
    pub user_id: i64,
    pub token_hash: String,
    pub expires_date: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = hooks)]
pub struct Hook {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub url: String,
    pub batch_size: i32,
    pub send_attempts: i32,
    pub filters: serde_json::Value,
    pub secret: String,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
    pub previous_secret: Option<String>,
    pub previous_secret_expires: Option<DateTime<Utc>>,
    pub failed_attempts: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: String,
    pub disabled_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = hooks)]
pub struct NewHook {
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub url: String,
    pub batch_size: i32,
    pub send_attempts: i32,
    pub filters: serde_json::Value,
    pub secret: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = face_events)]
pub struct FaceEventRow {
    pub id: Uuid,
    pub created_date: DateTime<Utc>,
    pub camera_id: i64,
    pub camera_group_id: i64,
    pub bs_type: String,
    pub thumbnail: String,
    pub fullframe: String,
    pub matched: bool,
    pub matched_dossier_id: Option<i64>,
    pub matched_face_id: Option<i64>,
    pub matched_lists: Vec<i64>,
    pub confidence: f32,
    pub quality: f32,
    pub frame_coords_left: i32,
    pub frame_coords_top: i32,
    pub frame_coords_right: i32,
    pub frame_coords_bottom: i32,
    pub detector_params: serde_json::Value,
    pub features: serde_json::Value,
    pub acknowledged: bool,
    pub acknowledged_date: Option<DateTime<Utc>>,
    pub acknowledged_by_id: Option<i64>,
    /// `features.age.name` when a number, else None: a column of its own so that age-range counts
    /// are index-only scans (migration 2026-11-28-000003_event_age).
    pub age: Option<f64>,
}

impl FaceEventRow {
    /// The row the recorder inserts for an event fresh off the bus.
    pub fn from_event(event: &crate::event::FaceEvent) -> Self {
        Self {
            id: event.id,
            created_date: event.created_date,
            camera_id: event.camera.id,
            camera_group_id: event.camera_group.id,
            bs_type: event.bs_type.as_str().to_string(),
            thumbnail: event.thumbnail.clone(),
            fullframe: event.fullframe.clone(),
            matched: event.matched,
            matched_dossier_id: event.matched_dossier.as_ref().map(|d| d.id),
            matched_face_id: event.matched_face,
            matched_lists: event.matched_lists.iter().map(|l| l.id).collect(),
            confidence: event.confidence,
            quality: event.quality,
            frame_coords_left: event.frame_coords.left,
            frame_coords_top: event.frame_coords.top,
            frame_coords_right: event.frame_coords.right,
            frame_coords_bottom: event.frame_coords.bottom,
            detector_params: event.detector_params.clone(),
            features: serde_json::to_value(&event.features).unwrap_or_default(),
            acknowledged: false,
            acknowledged_date: None,
            acknowledged_by_id: None,
            // The very number EventListFilters::matches compares for the live feed.
            age: event.features.age(),
        }
    }
}

/// An event's feature vector as the recorder keeps it (EVENT_SEARCH.KEEP_VECTORS).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = event_vectors)]
pub struct EventVectorRow {
    pub event_id: Uuid,
    pub created_date: DateTime<Utc>,
    pub matched: bool,
    pub embedding: Vec<f32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewWebhookDelivery {
    pub hook_id: i64,
    pub message_id: String,
    pub event_ids: Vec<Uuid>,
    pub attempt: i32,
    pub success: bool,
    pub response_status: Option<i32>,
    pub error: String,
    pub duration_ms: i32,
    pub response_body: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_deliveries)]
pub struct WebhookDelivery {
    pub id: i64,
    pub hook_id: i64,
    pub message_id: String,
    pub event_ids: Vec<Uuid>,
    pub attempt: i32,
    pub success: bool,
    pub response_status: Option<i32>,
    pub error: String,
    pub duration_ms: i32,
    pub created_date: DateTime<Utc>,
    pub response_body: String,
}
