//! Test fixtures shared by the image's unit tests: a metadata image with brokers registered
//! and unfenced.

use uuid::Uuid;

use crate::image::MetadataImage;
use crate::records::*;

/// Brokers 1..=`n` registered (log index and broker epoch = id) and unfenced (index 10 + id).
pub fn with_brokers(n: BrokerId) -> MetadataImage {
    let mut image = MetadataImage::default();
    for id in 1..=n {
        let reg = MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: id,
            incarnation_id: Uuid::from_u128(id as u128),
            endpoints: vec![Endpoint {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092,
                security_protocol: "PLAINTEXT".into(),
            }],
            rack: None,
        });
        image = image.apply(&RecordBatch::one(reg), id as u64).unwrap();
    }
    for id in 1..=n {
        let unfence = MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
            broker_id: id,
            broker_epoch: id as u64,
        });
        image = image
            .apply(&RecordBatch::one(unfence), 10 + id as u64)
            .unwrap();
    }
    image
}
