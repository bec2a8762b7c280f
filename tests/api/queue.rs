//! The durable job queue on both databases: claims, leases, retries, one open job per subject.

use passerelle::db::jobs;
use serde_json::json;

use crate::support::{TestApp, both_backends};

both_backends!(jobs_are_claimed_once_and_survive_a_dead_worker, queue_body);
async fn queue_body(app: TestApp) {
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let (job, created) = jobs::enqueue(
        &mut conn,
        "test_kind",
        "subject-1",
        &json!({"n": 1}),
        "test",
    )
    .unwrap();
    assert!(created);
    // One open job per subject: enqueueing again returns the same job.
    let (again, created) = jobs::enqueue(
        &mut conn,
        "test_kind",
        "subject-1",
        &json!({"n": 2}),
        "test",
    )
    .unwrap();
    assert!(!created);
    assert_eq!(again.id, job.id);

    let lease = chrono::Duration::seconds(60);
    let claimed = jobs::claim(&mut conn, "w1", &["test_kind"], lease)
        .unwrap()
        .expect("due job");
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.status, "running");
    // Nobody else gets it while the lease holds; other kinds are not claimed.
    assert!(
        jobs::claim(&mut conn, "w2", &["test_kind"], lease)
            .unwrap()
            .is_none()
    );
    // A retry puts it back in the future; a worker that lost the job cannot record anything.
    let later = passerelle::db::now() + chrono::Duration::hours(1);
    assert!(!jobs::release(&mut conn, &job.id, "w2", "not mine", Some(later)).unwrap());
    assert!(jobs::release(&mut conn, &job.id, "w1", "digiposte 503", Some(later)).unwrap());
    assert!(
        jobs::claim(&mut conn, "w2", &["test_kind"], lease)
            .unwrap()
            .is_none()
    );

    // A worker that dies holding a job: once the lease expires, another worker takes it.
    let (other, _) =
        jobs::enqueue(&mut conn, "test_kind", "subject-2", &json!({}), "test").unwrap();
    let short = chrono::Duration::milliseconds(1);
    let taken = jobs::claim(&mut conn, "dead", &["test_kind"], short)
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, other.id);
    std::thread::sleep(std::time::Duration::from_millis(20));
    // A dead worker's job comes before due pending work (else a backlog would strand it).
    jobs::enqueue(&mut conn, "test_kind", "subject-3", &json!({}), "test").unwrap();
    let retaken = jobs::claim(&mut conn, "alive", &["test_kind"], lease)
        .unwrap()
        .unwrap();
    assert_eq!(retaken.id, other.id);
    assert_eq!(retaken.attempts, 2);
    assert!(!jobs::complete(&mut conn, &other.id, "dead").unwrap());
    assert!(jobs::complete(&mut conn, &other.id, "alive").unwrap());
    // Done: a new job for the same subject may be queued again.
    let (_, created) =
        jobs::enqueue(&mut conn, "test_kind", "subject-2", &json!({}), "test").unwrap();
    assert!(created);
    let depth = jobs::depth(&mut conn).unwrap();
    assert_eq!(
        depth.iter().find(|(k, _, _)| k == "test_kind").unwrap().1,
        3
    );
}

both_backends!(concurrent_workers_never_share_a_job, concurrent_body);
async fn concurrent_body(app: TestApp) {
    let db = app.db();
    {
        let mut conn = db.conn().unwrap();
        for i in 0..40 {
            jobs::enqueue(&mut conn, "race", &format!("s{i}"), &json!({}), "test").unwrap();
        }
    }
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let url = app.config.database_url();
            std::thread::spawn(move || {
                let db = passerelle::db::Db::connect(&url, 1, 10_000).unwrap();
                let mut conn = db.conn().unwrap();
                let mut mine = Vec::new();
                while let Some(job) = jobs::claim(
                    &mut conn,
                    &format!("w{w}"),
                    &["race"],
                    chrono::Duration::seconds(60),
                )
                .unwrap()
                {
                    mine.push(job.id);
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(all.len(), 40);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "a job was claimed twice");
}

/// A job that runs three times longer than its lease, with idle workers polling beside it: the
/// running worker renews its lease, so no other worker takes the job over and it runs once.
struct SlowJob {
    runs: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl passerelle::jobs::JobHandler for SlowJob {
    fn kind(&self) -> &'static str {
        "slow"
    }
    fn run<'a>(&'a self, _job: &'a jobs::JobRow) -> passerelle::jobs::HandlerFuture<'a> {
        Box::pin(async move {
            self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            actix_web::rt::time::sleep(std::time::Duration::from_millis(3500)).await;
            passerelle::jobs::Outcome::Done
        })
    }
}

both_backends!(a_live_worker_keeps_its_job_past_the_lease, lease_body);
async fn lease_body(app: TestApp) {
    let db = app.db();
    jobs::enqueue(&mut db.conn().unwrap(), "slow", "s1", &json!({}), "test").unwrap();
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let config = passerelle::jobs::JobsConfig {
        enabled: true,
        workers: 3,
        poll_interval_ms: 50,
        lease_secs: 1,
        ..Default::default()
    };
    passerelle::jobs::start(
        db.clone(),
        config,
        vec![std::sync::Arc::new(SlowJob { runs: runs.clone() })],
    );
    let mut finished = false;
    for _ in 0..200 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        if jobs::open_jobs_for(&mut db.conn().unwrap(), "s1")
            .unwrap()
            .is_empty()
        {
            finished = true;
            break;
        }
    }
    assert!(finished, "the slow job never completed");
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the job was taken over while its worker lived"
    );
}
