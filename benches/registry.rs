//! Registry benchmarks on a real database (SQLite by default; PostgreSQL when
//! PASSERELLE_BENCH_DATABASE_URL is set):
//!   cargo bench --bench registry
//! 1. import of 50,000 enrolment rows (goal: < 30 s);
//! 2. the manager's everyday query on 60,000 vaults,
//!    `status=active & composante=X & q=dup`, timed over many runs (goal: p99 < 20 ms), and
//!    the unfiltered lists of a composante and of the manager's whole scope.

use std::collections::HashSet;
use std::time::Instant;

use passerelle::auth::DataScope;
use passerelle::db::Db;
use passerelle::db::students::{self, ImportContext};
use passerelle::db::vaults::{self, VaultFilter};
use passerelle::domain::enrolment::{EnrolmentRecord, EnrolmentState, ImportReport};
use passerelle::domain::vault::VaultStatus;
use passerelle::pagination::Window;

/// Last names as varied as a real registry: 80 first syllables × 40 endings = 3,200 names,
/// of which the 40 starting with "DUP" (DUPONT, DUPOND, DUPUIS…) make ≈ 1.25 % of students —
/// about what "dup" matches in a French university.
const HEADS: &[&str] = &[
    "DUP", "LEF", "MAR", "BER", "DUR", "PET", "MOR", "GAR", "ROU", "LAM", "BON", "CHA", "FOU",
    "GIR", "HEN", "JOL", "LAC", "MEU", "NOË", "PER", "RIV", "SAU", "TIS", "VAL", "BAR", "BLA",
    "BRU", "CAR", "COL", "DAL", "DEL", "FAB", "GAU", "GUE", "HUB", "LAN", "LEB", "LEG", "MAL",
    "MIC", "NIC", "OLI", "PAS", "POI", "REN", "ROB", "ROY", "SIM", "TEX", "VID", "AUB", "BAU",
    "BOU", "CLE", "COU", "DEV", "DUB", "FAU", "FER", "GIL", "HAR", "JAC", "LAR", "LOU", "MAI",
    "MAS", "NOR", "PAR", "PIC", "REY", "RIC", "SAL", "TOU", "VER", "VIL", "WEB", "ZEL", "ARN",
    "BEN", "ÉVR",
];
const TAILS: &[&str] = &[
    "ONT",
    "OND",
    "UIS",
    "UY",
    "RÉ",
    "IN",
    "ÈVRE",
    "TIN",
    "NARD",
    "AND",
    "IT",
    "EAU",
    "ÇON",
    "SSEAU",
    "BERT",
    "NET",
    "LIER",
    "ET",
    "OT",
    "AUD",
    "IER",
    "EL",
    "AN",
    "OIS",
    "ARD",
    "ERT",
    "ON",
    "AS",
    "IOT",
    "ARD-MARTIN",
    "ELIN",
    "OUX",
    "ENS",
    "ERON",
    "ANT",
    "IEU",
    "OLLE",
    "ILLE",
    "OU",
    "Y",
];
const FIRST: &[&str] = &[
    "Zoé",
    "Jean",
    "Anaïs",
    "Luc",
    "Inès",
    "Noël",
    "Léa",
    "Hugo",
    "Chloé",
    "Raphaël",
    "Maëlle",
    "Timothée",
];

fn last_name(i: usize) -> String {
    // Mixed so that names do not alias with the composante (i % 12) or the étape (i % 3).
    let h = (i.wrapping_mul(2_654_435_761) ^ (i >> 3)).wrapping_mul(0x9E37)
        % (HEADS.len() * TAILS.len());
    format!("{}{}", HEADS[h % HEADS.len()], TAILS[h / HEADS.len()])
}

fn records(n: usize, year: i32) -> Vec<EnrolmentRecord> {
    (0..n)
        .map(|i| EnrolmentRecord {
            line: i + 2,
            cod_etu: format!("{}", 30_000_000 + i),
            ine: Some(format!(
                "{:010}{}",
                1_000_000_000 + i,
                (b'A' + (i % 26) as u8) as char
            )),
            last_name: last_name(i),
            first_name: FIRST[i % FIRST.len()].to_owned(),
            birth_date: chrono::NaiveDate::from_ymd_opt(
                2000 + (i % 6) as i32,
                1 + (i % 12) as u32,
                1 + (i % 28) as u32,
            ),
            email: None,
            composante: format!("C{:02}", i % 12),
            etape: format!("L{}INF", 1 + i % 3),
            academic_year: year,
            state: if i % 10 == 0 {
                EnrolmentState::A
            } else {
                EnrolmentState::E
            },
            regime: None,
            boursier: None,
        })
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` (CI's short mode, so a bench that
    // no longer builds or runs fails CI) does not: then small sizes, figures meaningless.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (imported, registry) = if quick {
        (2_000, 2_400)
    } else {
        (50_000, 60_000)
    };
    let dir = tempfile::tempdir().unwrap();
    let keep = std::env::var("BENCH_KEEP_DIR").ok();
    let folder = keep
        .clone()
        .unwrap_or_else(|| dir.path().display().to_string());
    let url = std::env::var("PASSERELLE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{folder}/bench.db"));
    let db = Db::connect(&url, 4, 10_000).expect("database");
    let mut conn = db.conn().unwrap();
    for i in 0..12 {
        let code = format!("C{i:02}");
        if !passerelle::db::composantes::exists(&mut conn, &code).unwrap() {
            passerelle::db::composantes::insert(
                &mut conn,
                &passerelle::db::composantes::NewComposante {
                    code: &code,
                    label: "bench",
                    created_at: passerelle::db::now(),
                    updated_at: passerelle::db::now(),
                },
            )
            .unwrap();
        }
    }

    // 1. Import 50,000 rows.
    let rows = records(imported, 2025);
    let ctx = ImportContext {
        scope: &DataScope::All,
        actor: "bench",
        current_year: 2025,
        audit_key: b"bench",
        // The registry's own figures; queuing the pre-creation is one batched insert per 200.
        auto_subscribe: false,
    };
    let started = Instant::now();
    let mut report = ImportReport::default();
    students::import(&mut conn, &rows, &HashSet::new(), &ctx, &mut report).unwrap();
    let import_secs = started.elapsed().as_secs_f64();
    println!(
        "import {imported} rows: {:.2} s (created {}, vaults {})",
        import_secs, report.created, report.vaults_created
    );

    // 2. Bring the registry to 60,000 vaults, a third of them active.
    students::import(
        &mut conn,
        &records(registry, 2025)[imported..],
        &HashSet::new(),
        &ctx,
        &mut ImportReport::default(),
    )
    .unwrap();
    {
        use diesel::prelude::*;
        use passerelle::db::schema::vaults as v;
        diesel::sql_query(format!("UPDATE vaults SET status = 'active' WHERE id IN (SELECT id FROM vaults ORDER BY id LIMIT {})", registry / 3))
            .execute(&mut *conn)
            .unwrap();
        let n: i64 = v::table.count().get_result(&mut *conn).unwrap();
        println!("vaults: {n}");
    }
    {
        use diesel::connection::SimpleConnection;
        conn.batch_execute("ANALYZE").unwrap();
    }
    // The manager of two composantes (C03, C04: 10,000 vaults). The narrow search is the
    // everyday query; the unfiltered lists are the landing page and the composante tab, where
    // every matching vault counts towards the total.
    let manager = DataScope::Composantes(vec!["C03".into(), "C04".into()]);
    let narrow = VaultFilter {
        statuses: vec![VaultStatus::Active],
        composante: Some("C03".into()),
        q: Some("dup".into()),
        ..VaultFilter::default()
    };
    let composante = VaultFilter {
        composante: Some("C03".into()),
        ..VaultFilter::default()
    };
    let cases = [
        ("status=active&composante=C03&q=dup", narrow, 500),
        ("composante=C03", composante, 100),
        (
            "(no filter, manager of C03 and C04)",
            VaultFilter::default(),
            100,
        ),
    ];
    let window = Window::new(Some(1), Some(50)).unwrap();
    for (query, filter, runs) in cases {
        let mut times = Vec::new();
        let mut total = 0;
        let runs = if quick { 5 } else { runs };
        for _ in 0..runs {
            let t = Instant::now();
            let (items, n) = vaults::list(&mut conn, &manager, &filter, window).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            total = n;
            assert_eq!(items.len() as i64, n.min(50));
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "GET /vaults?{query} on {registry} vaults ({total} matches): p50 {:.2} ms, p99 {:.2} ms",
            p(0.50),
            p(0.99)
        );
    }
}
