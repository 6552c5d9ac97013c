//! Every bus message decoder on arbitrary bytes.
#![no_main]

use domain::messages::{self, DeliveryRetry, EventCreated, EventUpdated, EventsAcknowledged, FaceDetected, GalleryChanged};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = messages::decode::<FaceDetected>(data);
    let _ = messages::decode::<EventCreated>(data);
    let _ = messages::decode::<EventUpdated>(data);
    let _ = messages::decode::<EventsAcknowledged>(data);
    let _ = messages::decode::<GalleryChanged>(data);
    let _ = messages::decode::<DeliveryRetry>(data);
});
