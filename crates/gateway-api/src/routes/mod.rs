//! Every route of gateway-api, in one place.

use actix_web::web;

pub mod auth;
pub mod camera_groups;
pub mod cameras;
mod db_error;
pub mod dossier_faces;
pub mod dossier_lists;
pub mod dossiers;
pub mod events;
pub mod hook_deliveries;
pub mod hooks;
pub mod pagination;
pub mod users;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/login/", web::post().to(auth::post_login))
        .route("/auth/logout/", web::post().to(auth::post_logout))
        .route("/users/me/", web::get().to(auth::get_me))
        .route("/users/", web::get().to(users::get_users))
        .route("/users/", web::post().to(users::post_user))
        .route("/users/{id}/", web::get().to(users::get_user))
        .route("/users/{id}/", web::patch().to(users::patch_user))
        .route("/users/{id}/", web::delete().to(users::delete_user))
        .route("/camera-groups/", web::get().to(camera_groups::get_camera_groups))
        .route("/camera-groups/", web::post().to(camera_groups::post_camera_group))
        .route("/camera-groups/{id}/", web::get().to(camera_groups::get_camera_group))
        .route("/camera-groups/{id}/", web::patch().to(camera_groups::patch_camera_group))
        .route("/camera-groups/{id}/", web::delete().to(camera_groups::delete_camera_group))
        .route("/cameras/", web::get().to(cameras::get_cameras))
        .route("/cameras/", web::post().to(cameras::post_camera))
        .route("/cameras/{id}/", web::get().to(cameras::get_camera))
        .route("/cameras/{id}/", web::patch().to(cameras::patch_camera))
        .route("/cameras/{id}/", web::delete().to(cameras::delete_camera))
        .route("/dossier-lists/", web::get().to(dossier_lists::get_dossier_lists))
        .route("/dossier-lists/", web::post().to(dossier_lists::post_dossier_list))
        .route("/dossier-lists/{id}/", web::get().to(dossier_lists::get_dossier_list))
        .route("/dossier-lists/{id}/", web::patch().to(dossier_lists::patch_dossier_list))
        .route("/dossier-lists/{id}/", web::delete().to(dossier_lists::delete_dossier_list))
        .route("/dossier-lists/{id}/purge/", web::post().to(dossier_lists::post_purge_dossier_list))
        .route("/dossiers/", web::get().to(dossiers::get_dossiers))
        .route("/dossiers/", web::post().to(dossiers::post_dossier))
        .route("/dossiers/{id}/", web::get().to(dossiers::get_dossier))
        .route("/dossiers/{id}/", web::patch().to(dossiers::patch_dossier))
        .route("/dossiers/{id}/", web::delete().to(dossiers::delete_dossier))
        .route("/dossier-faces/", web::get().to(dossier_faces::get_dossier_faces))
        .route("/dossier-faces/", web::post().to(dossier_faces::post_dossier_face))
        .route("/dossier-faces/{id}/", web::get().to(dossier_faces::get_dossier_face))
        .route("/dossier-faces/{id}/", web::patch().to(dossier_faces::patch_dossier_face))
        .route("/dossier-faces/{id}/", web::delete().to(dossier_faces::delete_dossier_face))
        .route("/hooks/", web::get().to(hooks::get_hooks))
        .route("/hooks/", web::post().to(hooks::post_hook))
        .route("/hooks/{id}/", web::get().to(hooks::get_hook))
        .route("/hooks/{id}/", web::patch().to(hooks::patch_hook))
        .route("/hooks/{id}/", web::delete().to(hooks::delete_hook))
        .route("/hooks/{id}/rotate-secret/", web::post().to(hooks::post_rotate_secret))
        .route("/hooks/{id}/deliveries/", web::get().to(hook_deliveries::get_hook_deliveries))
        .route("/hooks/{id}/deliveries/{delivery}/resend/", web::post().to(hook_deliveries::post_resend_delivery))
        .route("/hooks/{id}/replay/", web::post().to(hook_deliveries::post_replay_hook))
        .route("/events/faces/", web::get().to(events::get_events))
        .route("/events/faces/acknowledge/", web::post().to(events::post_acknowledge_events))
        .route("/events/faces/{id}/", web::get().to(events::get_event))
        .route("/events/faces/{id}/", web::patch().to(events::patch_event))
        .route("/events/", web::get().to(crate::live::get_events_socket));
}
