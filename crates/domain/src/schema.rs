// @generated automatically by Diesel CLI.

diesel::table! {
    api_tokens (id) {
        id -> Int8,
        user_id -> Int8,
        token_hash -> Text,
        created_date -> Timestamptz,
        expires_date -> Timestamptz,
    }
}

diesel::table! {
    camera_groups (id) {
        id -> Int8,
        name -> Text,
        comment -> Text,
        active -> Bool,
        created_date -> Timestamptz,
        modified_date -> Timestamptz,
    }
}

diesel::table! {
    cameras (id) {
        id -> Int8,
        name -> Text,
        comment -> Text,
        url -> Text,
        active -> Bool,
        group_id -> Int8,
        external_detector_token -> Text,
        confidence_threshold -> Nullable<Float4>,
        roi -> Text,
        created_date -> Timestamptz,
        modified_date -> Timestamptz,
        stream_settings -> Jsonb,
        genetec_camera -> Nullable<Int4>,
    }
}

diesel::table! {
    detection_photos (id) {
        id -> Uuid,
        photo -> Bytea,
        created_date -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    detections (id) {
        id -> Uuid,
        photo_id -> Uuid,
        embedding -> Array<Float4>,
        detection_score -> Float4,
        quality -> Float4,
        bbox_left -> Int4,
        bbox_top -> Int4,
        bbox_right -> Int4,
        bbox_bottom -> Int4,
    }
}

diesel::table! {
    dossier_faces (id) {
        id -> Int8,
        dossier_id -> Int8,
        source_photo -> Text,
        thumbnail -> Text,
        embedding -> Array<Float4>,
        quality -> Float4,
        source_coords_left -> Nullable<Int4>,
        source_coords_top -> Nullable<Int4>,
        source_coords_right -> Nullable<Int4>,
        source_coords_bottom -> Nullable<Int4>,
        active -> Bool,
        created_date -> Timestamptz,
        modified_date -> Timestamptz,
    }
}

diesel::table! {
    dossier_list_members (dossier_id, list_id) {
        dossier_id -> Int8,
        list_id -> Int8,
    }
}

diesel::table! {
    dossier_lists (id) {
        id -> Int8,
        name -> Text,
        comment -> Text,
        color -> Text,
        active -> Bool,
        notify -> Bool,
        created_date -> Timestamptz,
        modified_date -> Timestamptz,
        confidence_threshold -> Nullable<Float4>,
    }
}

diesel::table! {
    dossiers (id) {
        id -> Int8,
        name -> Text,
        comment -> Text,
        active -> Bool,
        created_date -> Timestamptz,
        modified_date -> Timestamptz,
    }
}

diesel::table! {
    event_vectors (event_id) {
        event_id -> Uuid,
        created_date -> Timestamptz,
        matched -> Bool,
        embedding -> Array<Float4>,
        recorded_date -> Timestamptz,
    }
}

diesel::table! {
    face_events (id, created_date) {
        id -> Uuid,
        created_date -> Timestamptz,
        camera_id -> Int8,
        camera_group_id -> Int8,
        bs_type -> Text,
        thumbnail -> Text,
        fullframe -> Text,
        matched -> Bool,
        matched_dossier_id -> Nullable<Int8>,
        matched_face_id -> Nullable<Int8>,
        matched_lists -> Array<Int8>,
        confidence -> Float4,
        quality -> Float4,
        frame_coords_left -> Int4,
        frame_coords_top -> Int4,
        frame_coords_right -> Int4,
        frame_coords_bottom -> Int4,
        detector_params -> Jsonb,
        features -> Jsonb,
        acknowledged -> Bool,
        acknowledged_date -> Nullable<Timestamptz>,
        acknowledged_by_id -> Nullable<Int8>,
        recorded_date -> Timestamptz,
        age -> Nullable<Float8>,
    }
}

diesel::table! {
    genetec_alarms (id) {
        id -> Int8,
        event_id -> Uuid,
        camera_id -> Int8,
        dossier_id -> Int8,
        attempt -> Int4,
        outcome -> Text,
        response_status -> Nullable<Int4>,
        error -> Text,
        duration_ms -> Int4,
        created_date -> Timestamptz,
    }
}

diesel::table! {
    hooks (id) {
        id -> Int8,
        name -> Text,
        comment -> Text,
        active -> Bool,
        url -> Text,
        batch_size -> Int4,
        send_attempts -> Int4,
        filters -> Jsonb,
        secret -> Text,
        created_date -> Timestamptz,
        modified_date -> Timestamptz,
        previous_secret -> Nullable<Text>,
        previous_secret_expires -> Nullable<Timestamptz>,
        failed_attempts -> Int4,
        failing_since -> Nullable<Timestamptz>,
        disabled_reason -> Text,
        disabled_date -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        active -> Bool,
        created_date -> Timestamptz,
        last_login -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        hook_id -> Int8,
        message_id -> Text,
        event_ids -> Array<Uuid>,
        attempt -> Int4,
        success -> Bool,
        response_status -> Nullable<Int4>,
        error -> Text,
        duration_ms -> Int4,
        created_date -> Timestamptz,
        response_body -> Text,
    }
}

diesel::table! {
    video_manager_jobs (camera_id) {
        camera_id -> Int8,
        synced_modified -> Nullable<Timestamptz>,
        status -> Text,
        status_msg -> Text,
        sync_error -> Text,
        checked_date -> Timestamptz,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(cameras -> camera_groups (group_id));
diesel::joinable!(detections -> detection_photos (photo_id));
diesel::joinable!(dossier_faces -> dossiers (dossier_id));
diesel::joinable!(dossier_list_members -> dossier_lists (list_id));
diesel::joinable!(dossier_list_members -> dossiers (dossier_id));
diesel::joinable!(webhook_deliveries -> hooks (hook_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    camera_groups,
    cameras,
    detection_photos,
    detections,
    dossier_faces,
    dossier_list_members,
    dossier_lists,
    dossiers,
    event_vectors,
    face_events,
    genetec_alarms,
    hooks,
    users,
    video_manager_jobs,
    webhook_deliveries,
);
