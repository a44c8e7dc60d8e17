//! Kafka's AlterUserScramCredentials / DescribeUserScramCredentials rules against an image,
//! and credentials made from a salted password authenticating a SCRAM exchange.

use runnel_controller::RecordBatch;

use super::*;

fn up(name: &str, mechanism: i8, iterations: i32, password: &str) -> Upsertion {
    let salt = b"0123456789abcdef".to_vec();
    let m = Mechanism::from_kafka_type(mechanism).unwrap_or(Mechanism::Sha256);
    Upsertion {
        name: name.into(),
        mechanism,
        iterations,
        salted_password: ScramCredential::salt_password(
            m,
            password.as_bytes(),
            &salt,
            iterations.clamp(1, 20_000) as u32,
        ),
        salt,
    }
}

fn del(name: &str, mechanism: i8) -> Deletion {
    Deletion {
        name: name.into(),
        mechanism,
    }
}

fn committed(image: &MetadataImage, plan: &AlterPlan) -> MetadataImage {
    let batch = RecordBatch {
        records: plan.records.clone(),
    };
    image.apply(&batch, image.applied_index() + 1).unwrap()
}

fn codes(plan: &AlterPlan) -> Vec<(String, Option<KafkaError>)> {
    plan.results
        .iter()
        .map(|(n, r)| (n.clone(), r.as_ref().err().map(|e| e.error)))
        .collect()
}

#[test]
fn upserted_credentials_authenticate_and_are_described_without_secrets() {
    let image = MetadataImage::default();
    let plan = plan_alter(
        &image,
        &[],
        &[
            up("alice", 2, 8192, "alice-secret"),
            up("bob", 1, 4096, "pw"),
        ],
    );
    assert_eq!(
        codes(&plan),
        vec![("alice".into(), None), ("bob".into(), None)]
    );
    let image = committed(&image, &plan);
    let alice = lookup(&image, "alice", Mechanism::Sha512).unwrap();
    // The same keys as a credential derived from the password itself.
    let derived =
        ScramCredential::derive(Mechanism::Sha512, b"alice-secret", &alice.salt, 8192).unwrap();
    assert_eq!(alice, derived);
    assert!(lookup(&image, "alice", Mechanism::Sha256).is_none());
    assert!(lookup_any(&image, "bob").unwrap().matches_password(b"pw"));
    let described = describe(&image, None);
    assert_eq!(described.len(), 2);
    assert_eq!(described[0].0, "alice");
    assert_eq!(described[0].1.as_ref().unwrap(), &vec![(2, 8192)]);
    let two = vec!["bob".to_string(), "nobody".to_string(), "bob".to_string()];
    let d = describe(&image, Some(&two));
    assert_eq!(d.len(), 2);
    assert_eq!(
        d[0].1.as_ref().unwrap_err().error,
        KafkaError::DuplicateResource
    );
    assert_eq!(
        d[1].1.as_ref().unwrap_err().error,
        KafkaError::ResourceNotFound
    );
}

#[test]
fn kafkas_errors_for_bad_alterations() {
    let image = committed(
        &MetadataImage::default(),
        &plan_alter(&MetadataImage::default(), &[], &[up("carol", 1, 4096, "x")]),
    );
    let plan = plan_alter(
        &image,
        &[
            del("carol", 2),
            del("dave", 1),
            del("erin", 1),
            del("erin", 1),
        ],
        &[
            up("", 1, 4096, "x"),
            up("frank", 3, 4096, "x"),
            up("grace", 1, 4095, "x"),
            up("heidi", 2, 16385, "x"),
            up("ivan", 1, 4096, "x"),
            up("ivan", 1, 4096, "y"),
        ],
    );
    use KafkaError::*;
    assert_eq!(
        codes(&plan),
        vec![
            ("carol".into(), Some(ResourceNotFound)),
            ("dave".into(), Some(ResourceNotFound)),
            ("erin".into(), Some(ResourceNotFound)),
            ("".into(), Some(UnacceptableCredential)),
            ("frank".into(), Some(UnsupportedSaslMechanism)),
            ("grace".into(), Some(UnacceptableCredential)),
            ("heidi".into(), Some(UnacceptableCredential)),
            ("ivan".into(), Some(DuplicateResource)),
        ]
    );
    assert!(plan.records.is_empty());
    // A deletion and an upsertion of the same user: DUPLICATE_RESOURCE, nothing changes.
    let plan = plan_alter(&image, &[del("carol", 1)], &[up("carol", 2, 4096, "z")]);
    assert_eq!(
        codes(&plan),
        vec![("carol".into(), Some(DuplicateResource))]
    );
    // A good deletion.
    let plan = plan_alter(&image, &[del("carol", 1)], &[]);
    assert_eq!(codes(&plan), vec![("carol".into(), None)]);
    assert!(committed(&image, &plan).scram().is_empty());
}
