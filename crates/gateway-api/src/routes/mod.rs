//! Every route of gateway-api, in one table: [`ROUTES`] registers the actix routes, lists the
//! handlers of the OpenAPI document, and tells the tests who may call each route. A route added
//! anywhere else would be missing from the document and the permission matrix, so there is no
//! other place to add one.

use actix_web::http::Method;
use actix_web::web;

use crate::auth::Role;
use crate::{console, live, media, openapi};

pub mod auth;
pub mod camera_groups;
pub mod cameras;
mod db_error;
pub mod detect;
pub mod dossier_faces;
pub mod dossier_lists;
pub mod dossier_search;
pub mod dossiers;
pub mod event_search;
pub mod events;
pub mod face_refs;
pub mod hook_deliveries;
pub mod hooks;
pub mod integrations;
pub mod object_faces;
pub mod ops;
pub mod pagination;
pub mod users;
pub mod verify;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed.
    Public,
    /// An `Authorization: Token <token>` header of a user with at least this role (viewer is the
    /// lowest, so `Role(Viewer)` means any valid token).
    Role(Role),
    /// The WebSocket: any valid token, sent in the socket's first message (wire doc §4), since
    /// browsers cannot set headers on a WebSocket handshake.
    SocketToken,
}

#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// The actix form: `{id}`, or `{name:regex}` for a tail.
    pub path: &'static str,
    pub access: Access,
}

impl Route {
    /// The path as the OpenAPI document writes it: `{name:regex}` becomes `{name}`.
    pub fn openapi_path(&self) -> String {
        let mut out = String::with_capacity(self.path.len());
        let mut in_regex = false;
        for c in self.path.chars() {
            match c {
                ':' if out.rfind('{') > out.rfind('}') => in_regex = true,
                '}' => {
                    in_regex = false;
                    out.push(c);
                }
                _ if in_regex => {}
                _ => out.push(c),
            }
        }
        out
    }
}

/// `(METHOD, "path", module::handler, access)` rows: generates [`ROUTES`], [`configure`] and the
/// handler list of the OpenAPI document from the same rows.
macro_rules! route_table {
    ($( ($method:ident, $path:literal, $module:ident :: $handler:ident, $access:expr) ),* $(,)?) => {
        pub static ROUTES: &[Route] = &[ $( Route { method: Method::$method, path: $path, access: $access } ),* ];

        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, web::method(Method::$method).to($module::$handler)); )*
        }

        /// The annotated handlers of every route (utoipa reads each one's `#[utoipa::path]`).
        #[derive(utoipa::OpenApi)]
        #[openapi(paths( $( $module::$handler ),* ), components(schemas(domain::ApiError)))]
        pub struct Handlers;
    };
}

const PUBLIC: Access = Access::Public;
const VIEWER: Access = Access::Role(Role::Viewer);
const OPERATOR: Access = Access::Role(Role::Operator);
const ADMIN: Access = Access::Role(Role::Admin);

route_table![
    (GET, "/health", ops::get_health, PUBLIC),
    (GET, "/health/live", ops::get_live, PUBLIC),
    (GET, "/metrics", ops::get_metrics, PUBLIC),
    (GET, "/api/openapi.json", openapi::get_openapi, PUBLIC),
    (POST, "/auth/login/", auth::post_login, PUBLIC),
    (POST, "/auth/logout/", auth::post_logout, VIEWER),
    (GET, "/users/me/", auth::get_me, VIEWER),
    (GET, "/users/", users::get_users, ADMIN),
    (POST, "/users/", users::post_user, ADMIN),
    (GET, "/users/{id}/", users::get_user, ADMIN),
    (PATCH, "/users/{id}/", users::patch_user, ADMIN),
    (DELETE, "/users/{id}/", users::delete_user, ADMIN),
    (GET, "/camera-groups/", camera_groups::get_camera_groups, VIEWER),
    (POST, "/camera-groups/", camera_groups::post_camera_group, ADMIN),
    (GET, "/camera-groups/{id}/", camera_groups::get_camera_group, VIEWER),
    (PATCH, "/camera-groups/{id}/", camera_groups::patch_camera_group, ADMIN),
    (DELETE, "/camera-groups/{id}/", camera_groups::delete_camera_group, ADMIN),
    (GET, "/cameras/", cameras::get_cameras, VIEWER),
    (POST, "/cameras/", cameras::post_camera, ADMIN),
    (GET, "/cameras/{id}/", cameras::get_camera, VIEWER),
    (PATCH, "/cameras/{id}/", cameras::patch_camera, ADMIN),
    (DELETE, "/cameras/{id}/", cameras::delete_camera, ADMIN),
    (GET, "/dossier-lists/", dossier_lists::get_dossier_lists, VIEWER),
    (POST, "/dossier-lists/", dossier_lists::post_dossier_list, OPERATOR),
    (GET, "/dossier-lists/{id}/", dossier_lists::get_dossier_list, VIEWER),
    (PATCH, "/dossier-lists/{id}/", dossier_lists::patch_dossier_list, OPERATOR),
    (DELETE, "/dossier-lists/{id}/", dossier_lists::delete_dossier_list, OPERATOR),
    (POST, "/dossier-lists/{id}/purge/", dossier_lists::post_purge_dossier_list, OPERATOR),
    (GET, "/dossiers/", dossiers::get_dossiers, VIEWER),
    (POST, "/dossiers/", dossiers::post_dossier, OPERATOR),
    (GET, "/dossiers/{id}/", dossiers::get_dossier, VIEWER),
    (PATCH, "/dossiers/{id}/", dossiers::patch_dossier, OPERATOR),
    (DELETE, "/dossiers/{id}/", dossiers::delete_dossier, OPERATOR),
    (GET, "/dossier-faces/", dossier_faces::get_dossier_faces, VIEWER),
    (POST, "/dossier-faces/", dossier_faces::post_dossier_face, OPERATOR),
    (GET, "/dossier-faces/{id}/", dossier_faces::get_dossier_face, VIEWER),
    (PATCH, "/dossier-faces/{id}/", dossier_faces::patch_dossier_face, OPERATOR),
    (DELETE, "/dossier-faces/{id}/", dossier_faces::delete_dossier_face, OPERATOR),
    (GET, "/objects/faces/", object_faces::get_object_faces, VIEWER),
    (POST, "/objects/faces/", object_faces::post_object_face, OPERATOR),
    (GET, "/objects/faces/{id}/", object_faces::get_object_face, VIEWER),
    (PATCH, "/objects/faces/{id}/", object_faces::patch_object_face, OPERATOR),
    (DELETE, "/objects/faces/{id}/", object_faces::delete_object_face, OPERATOR),
    (POST, "/detect/", detect::post_detect, VIEWER),
    (POST, "/detect", detect::post_detect_bare, VIEWER),
    (GET, "/verify", verify::get_verify, VIEWER),
    (GET, "/verify/", verify::get_verify_slash, VIEWER),
    (GET, "/hooks/", hooks::get_hooks, ADMIN),
    (POST, "/hooks/", hooks::post_hook, ADMIN),
    (GET, "/hooks/{id}/", hooks::get_hook, ADMIN),
    (PATCH, "/hooks/{id}/", hooks::patch_hook, ADMIN),
    (DELETE, "/hooks/{id}/", hooks::delete_hook, ADMIN),
    (POST, "/hooks/{id}/rotate-secret/", hooks::post_rotate_secret, ADMIN),
    (GET, "/hooks/{id}/deliveries/", hook_deliveries::get_hook_deliveries, ADMIN),
    (POST, "/hooks/{id}/deliveries/{delivery}/resend/", hook_deliveries::post_resend_delivery, ADMIN),
    (POST, "/hooks/{id}/replay/", hook_deliveries::post_replay_hook, ADMIN),
    (GET, "/events/faces/", events::get_events, VIEWER),
    (POST, "/events/faces/acknowledge/", events::post_acknowledge_events, OPERATOR),
    (GET, "/events/faces/{id}/", events::get_event, VIEWER),
    (PATCH, "/events/faces/{id}/", events::patch_event, OPERATOR),
    (POST, "/integrations/genetec/import-cameras/", integrations::post_import_genetec_cameras, ADMIN),
    (GET, "/integrations/genetec/alarms/", integrations::get_genetec_alarms, ADMIN),
    (GET, "/events/", live::get_events_socket, Access::SocketToken),
    // A signed URL (`?expires=&signature=`) also lets a caller without a token in.
    (GET, "/uploads/{path:.*}", media::get_media, VIEWER),
    (HEAD, "/uploads/{path:.*}", media::head_media, VIEWER),
    // The operator console (static files from STATIC_ROOT); it logs in through the API itself.
    (GET, "/", console::get_root, PUBLIC),
    (GET, "/console/{path:.*}", console::get_console, PUBLIC),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_paths_drop_the_tail_regex() {
        let route = |path| Route { method: Method::GET, path, access: PUBLIC };
        assert_eq!(route("/uploads/{path:.*}").openapi_path(), "/uploads/{path}");
        assert_eq!(route("/hooks/{id}/deliveries/{delivery}/").openapi_path(), "/hooks/{id}/deliveries/{delivery}/");
        assert_eq!(route("/health").openapi_path(), "/health");
    }

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(seen.insert((r.method.clone(), r.path)), "{} {} listed twice", r.method, r.path);
        }
    }
}
