//! Crash and fault drills: a `passerelle serve` process killed (SIGKILL) in the middle of a
//! split and restarted loses nothing and duplicates nothing; a full disk during an upload
//! answers a clear problem and registers nothing.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use crate::support::{ServeProcess, TestApp, both_backends};
use crate::treatments::{batch_with_students, upload};

/// The API in-process with its workers off: the split runs only in the killable process.
fn no_workers(c: &mut passerelle::config::Config) {
    c.jobs.enabled = false;
}

both_backends!(
    sigkill_during_a_split_loses_and_duplicates_nothing,
    split_kill_body,
    super::no_workers
);
async fn split_kill_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let students = 1500;
    let batch = batch_with_students(&app, students).await;
    let admin = app.admin();
    // A short lease, so the restarted worker takes the dead one's job over quickly.
    let env = [("PASSERELLE_JOBS__LEASE_SECS", "2")];
    let mut first = ServeProcess::start(&app, &env).await;
    let r = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();

    // Kill it while it splits (progress reported, not finished).
    let mut killed_while_splitting = false;
    for _ in 0..2000 {
        let t = app.get(&format!("/treatments/{id}"), &admin).await;
        let t = t.ok(200);
        if t["status"] != "splitting" {
            break;
        }
        if t["pages_done"].as_u64().unwrap_or(0) > 0 {
            first.kill9();
            killed_while_splitting = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        killed_while_splitting,
        "the split ended before the kill: make the batch larger"
    );
    let t = app.get(&format!("/treatments/{id}"), &admin).await;
    assert_eq!(t.ok(200)["status"], "splitting");

    let _second = ServeProcess::start(&app, &env).await;
    let mut done: Value = Value::Null;
    for _ in 0..600 {
        let t = app.get(&format!("/treatments/{id}"), &admin).await;
        if t.ok(200)["status"] != "splitting" {
            done = t.body;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], "split", "{done}");
    assert_eq!(done["blocks"]["students"], students);
    let docs = app
        .get(
            &format!("/treatments/{id}/documents?per_page=100&page=1"),
            &admin,
        )
        .await;
    assert_eq!(
        docs.ok(200)["total"],
        students,
        "one document per student, none twice"
    );
    // Every student's document exactly once, across all pages of the list.
    let mut seen = HashSet::new();
    let mut page = 1;
    loop {
        let r = app
            .get(
                &format!("/treatments/{id}/documents?per_page=100&page={page}"),
                &admin,
            )
            .await;
        let items = r.ok(200)["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        for d in items {
            assert!(seen.insert(d["cod_etu"].as_str().unwrap().to_owned()));
        }
        page += 1;
    }
    let expected: HashSet<String> = batch.expected.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(seen, expected);
}

/// The data directory on a 1 MiB file system (tmpfs; needs root, as CI runs): an upload that
/// cannot be written answers 507 `storage_unavailable` and leaves no treatment and no file.
#[actix_web::test]
async fn a_full_disk_during_an_upload_registers_nothing() {
    let mount = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mount.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a small tmpfs (not root?): disk-full drill skipped");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.path().to_owned());
    let db_dir = tempfile::tempdir().unwrap();
    let data = mount.path().to_owned();
    let db = db_dir.path().join("passerelle.db");
    let app = TestApp::sqlite_with(move |c| {
        c.data_dir = data;
        c.database_url = format!("sqlite://{}", db.display());
    })
    .await;
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 1200).await;
    assert!(
        batch.bytes.len() > 1 << 20,
        "the batch must outgrow the disk"
    );
    let admin = app.admin();
    let r = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905").await;
    r.problem(507, "storage_unavailable");
    assert_eq!(app.get("/treatments", &admin).await.ok(200)["total"], 0);
    // No half-written file is left behind, under any name.
    let files: Vec<_> = walk(mount.path());
    let big: Vec<_> = files.iter().filter(|(_, size)| *size > 64 * 1024).collect();
    assert!(big.is_empty(), "files left on the full disk: {big:?}");
    // Once space is back (a smaller batch fits), uploads work again.
    let small = batch_with_students(&app, 2).await;
    let r = upload(&app, &admin, small.bytes.clone(), "releve_notes", "905").await;
    r.ok(202);
}

fn walk(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            match e.metadata() {
                Ok(m) if m.is_dir() => out.extend(walk(&path)),
                Ok(m) => out.push((path, m.len())),
                Err(_) => {}
            }
        }
    }
    out
}
