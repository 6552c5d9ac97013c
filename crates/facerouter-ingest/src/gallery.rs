//! The in-memory gallery every ingest replica holds: cameras (with their groups) and the enrolled
//! dossier faces. Loaded at start and re-read whenever gateway-api announces a change on the
//! gallery exchange, so the per-frame path never queries PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::db::DbPool;
use domain::event::IdName;
use domain::schema::{camera_groups, cameras, dossier_faces, dossier_list_members, dossier_lists, dossiers};

#[derive(Debug, Clone)]
pub struct CameraEntry {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub group: IdName,
    pub confidence_threshold: Option<f32>,
}

#[derive(Debug, Clone)]
pub struct FaceEntry {
    pub face_id: i64,
    pub dossier: IdName,
    pub lists: Arc<[IdName]>,
    pub photo: String,
    /// L2-normalised, so a dot product is the cosine similarity.
    pub vector: Vec<f32>,
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub cameras: HashMap<i64, CameraEntry>,
    pub faces: Vec<FaceEntry>,
}

#[derive(Debug, Clone)]
pub struct Match<'a> {
    pub face: &'a FaceEntry,
    pub confidence: f32,
}

impl Snapshot {
    /// Exact 1:N search: the best face at or above `threshold`.
    pub fn best_match(&self, query: &[f32], threshold: f32) -> Option<Match<'_>> {
        let mut best: Option<Match<'_>> = None;
        for face in &self.faces {
            if face.vector.len() != query.len() {
                continue;
            }
            let score: f32 = face.vector.iter().zip(query).map(|(a, b)| a * b).sum();
            if score >= threshold && best.as_ref().is_none_or(|b| score > b.confidence) {
                best = Some(Match { face, confidence: score });
            }
        }
        best
    }
}

/// Shared, swappable snapshot: readers take an `Arc` and never wait on a reload.
#[derive(Clone, Default)]
pub struct Gallery {
    current: Arc<RwLock<Arc<Snapshot>>>,
}

impl Gallery {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, next: Snapshot) {
        let next = Arc::new(next);
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// Re-reads cameras and faces from PostgreSQL and swaps the snapshot in one step.
    pub async fn reload(&self, pool: &DbPool) -> anyhow::Result<(usize, usize)> {
        let mut conn = pool.get().await?;
        let camera_rows: Vec<(i64, String, bool, Option<f32>, i64, String)> = cameras::table
            .inner_join(camera_groups::table)
            .select((
                cameras::id,
                cameras::name,
                cameras::active,
                cameras::confidence_threshold,
                camera_groups::id,
                camera_groups::name,
            ))
            .load(&mut conn)
            .await?;
        let list_rows: Vec<(i64, i64, String)> = dossier_list_members::table
            .inner_join(dossier_lists::table)
            .filter(dossier_lists::active.eq(true))
            .select((dossier_list_members::dossier_id, dossier_lists::id, dossier_lists::name))
            .order((dossier_list_members::dossier_id, dossier_lists::id))
            .load(&mut conn)
            .await?;
        let face_rows: Vec<(i64, String, Vec<f32>, i64, String)> = dossier_faces::table
            .inner_join(dossiers::table)
            .filter(dossier_faces::active.eq(true))
            .filter(dossiers::active.eq(true))
            .select((
                dossier_faces::id,
                dossier_faces::thumbnail,
                dossier_faces::embedding,
                dossiers::id,
                dossiers::name,
            ))
            .load(&mut conn)
            .await?;
        drop(conn);

        let cameras = camera_rows
            .into_iter()
            .map(|(id, name, active, confidence_threshold, group_id, group_name)| {
                let group = IdName { id: group_id, name: group_name };
                (id, CameraEntry { id, name, active, group, confidence_threshold })
            })
            .collect::<HashMap<_, _>>();
        let mut lists: HashMap<i64, Vec<IdName>> = HashMap::new();
        for (dossier_id, id, name) in list_rows {
            lists.entry(dossier_id).or_default().push(IdName { id, name });
        }
        let lists: HashMap<i64, Arc<[IdName]>> = lists.into_iter().map(|(k, v)| (k, Arc::from(v))).collect();
        // A dossier is watched only through an active list; a face whose dossier has none never matches.
        let faces = face_rows
            .into_iter()
            .filter_map(|(face_id, photo, vector, dossier_id, dossier_name)| {
                let lists = lists.get(&dossier_id)?.clone();
                Some(FaceEntry {
                    face_id,
                    dossier: IdName { id: dossier_id, name: dossier_name },
                    lists,
                    photo,
                    vector,
                })
            })
            .collect::<Vec<_>>();
        let counts = (cameras.len(), faces.len());
        self.replace(Snapshot { cameras, faces });
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(id: i64, vector: Vec<f32>) -> FaceEntry {
        FaceEntry {
            face_id: id,
            dossier: IdName { id, name: format!("d{id}") },
            lists: Arc::from(Vec::new()),
            photo: String::new(),
            vector,
        }
    }

    #[test]
    fn best_match_respects_threshold_and_dimension() {
        let snapshot = Snapshot {
            cameras: HashMap::new(),
            faces: vec![face(1, vec![1.0, 0.0]), face(2, vec![0.6, 0.8]), face(3, vec![1.0, 0.0, 0.0])],
        };
        let hit = snapshot.best_match(&[0.8, 0.6], 0.5).unwrap();
        assert_eq!(hit.face.face_id, 2);
        assert!((hit.confidence - 0.96).abs() < 1e-6);
        assert!(snapshot.best_match(&[0.8, 0.6], 0.97).is_none());
        assert!(snapshot.best_match(&[0.0, 0.0, 1.0], 0.1).is_none());
    }
}
