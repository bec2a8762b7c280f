//! Database access: one portable schema over SQLite and PostgreSQL through
//! `diesel::MultiConnection`, pooled with r2d2, always used off the async workers.

pub mod api_keys;
pub mod audit;
pub mod blobs;
pub mod composantes;
pub mod consents;
pub mod deliveries;
pub mod grade_transfers;
pub mod jobs;
pub mod lockers;
pub mod receipts;
pub mod schema;
pub mod students;
pub mod supporting_documents;
pub mod treatments;
pub mod vaults;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::ApiError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Key of the PostgreSQL advisory lock held while migrating ("passerelle" in ASCII, truncated).
const MIGRATION_LOCK_KEY: i64 = 0x7061_7373_6572_656c;

/// A connection to either backend; queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// The query-builder backend of [`DbConnection`] (portable SQL for both databases).
pub type DbBackend = <DbConnection as diesel::Connection>::Backend;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub type DbPool = Pool<Manager>;
pub type PooledDb = PooledConnection<Manager>;

/// Opens pooled connections to the one backend the URL names. (diesel's own manager for a
/// `MultiConnection` tries every backend in turn: with PostgreSQL down it would then try to
/// open the URL as a SQLite file name, and report only "invalid connection url" instead of
/// PostgreSQL's own error.)
#[derive(Debug)]
pub struct Manager {
    url: String,
    backend: Backend,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match self.backend {
            Backend::Postgres => {
                diesel::PgConnection::establish(&self.url).map(DbConnection::Postgresql)
            }
            Backend::Sqlite => {
                diesel::SqliteConnection::establish(&self.url).map(DbConnection::Sqlite)
            }
        }
        .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// The handle the application keeps: a pool and which backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("cannot open the database: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("cannot open the SQLite database: {0}")]
    Open(String),
    #[error("migrations failed: {0}")]
    Migrations(String),
}

/// SQLite settings applied to every pooled connection: WAL so readers never wait for the writer,
/// foreign keys enforced, and a busy timeout instead of instant `SQLITE_BUSY` errors.
#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout_ms: u64,
}

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            // busy_timeout first, so the other statements already wait instead of failing.
            c.batch_execute(&format!(
                // secure_delete: erased personal data is overwritten, not left in free pages.
                // temp_store: statement journals and sorts in memory, not temporary files (the
                // import's multi-row inserts wrote one journal file per statement).
                "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                 PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;",
                self.busy_timeout_ms
            ))
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

impl Db {
    /// Opens (creating the SQLite file and its directory if needed) and migrates.
    pub fn connect(url: &str, pool_size: u32, busy_timeout_ms: u64) -> Result<Db, DbSetupError> {
        let (backend, diesel_url) = parse_url(url);
        if backend == Backend::Sqlite
            && let Some(dir) = std::path::Path::new(&diesel_url).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbSetupError::DataDir(dir.display().to_string(), e))?;
        }
        if backend == Backend::Sqlite {
            // WAL is a property of the file: set it once, before the pool opens connections
            // concurrently (changing it from several connections at once fails with "locked").
            let mut c = diesel::SqliteConnection::establish(&diesel_url)
                .map_err(|e| DbSetupError::Open(format!("{diesel_url}: {e}")))?;
            c.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")
                .map_err(|e| DbSetupError::Open(e.to_string()))?;
        }
        let manager = Manager {
            url: diesel_url,
            backend,
        };
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(Duration::from_millis(busy_timeout_ms.max(250)))
            .connection_customizer(Box::new(SqlitePragmas { busy_timeout_ms }))
            .build(manager)?;
        let db = Db { pool, backend };
        db.migrate()?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn migrate(&self) -> Result<Vec<String>, DbSetupError> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConnection::Postgresql(c) => {
                // Several instances may start at once: one migrates, the others wait on the
                // session-level advisory lock, then find nothing pending.
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                    .map_err(|e| DbSetupError::Migrations(e.to_string()))?;
                let applied = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
                    .map_err(|e| DbSetupError::Migrations(e.to_string()));
                let unlocked =
                    c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
                unlocked.map_err(|e| DbSetupError::Migrations(e.to_string()))?;
                return applied;
            }
        }
        .map_err(|e| DbSetupError::Migrations(e.to_string()))?;
        Ok(applied.iter().map(|m| m.to_string()).collect())
    }

    /// A connection for blocking code (CLI commands, job workers already off the async threads).
    pub fn conn(&self) -> Result<PooledDb, ApiError> {
        Ok(self.pool.get()?)
    }

    /// Runs read-only or single-statement work on a pooled connection, off the async workers.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_as(f).await
    }

    /// Runs `f` in a write transaction (see [`write_transaction`]), off the async workers.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.write_as(f).await
    }

    /// [`Db::run`] for a use case that answers its own error type (which the repositories'
    /// errors convert into).
    pub async fn run_as<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(|e| E::from(e.into()))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(e.into()))?
    }

    /// [`Db::write`] for a use case that answers its own error type.
    pub async fn write_as<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<ApiError> + Send + 'static,
    {
        self.run_as(move |conn| write_transaction_as(conn, f)).await
    }

    /// After an erasure: on SQLite, moves the write-ahead log into the database file and
    /// truncates it, so no copy of the erased pages lingers in the WAL.
    pub async fn purge_write_ahead_log(&self) -> Result<(), ApiError> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        self.run(|conn| {
            conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
            Ok(())
        })
        .await
    }

    /// Checks the database answers (readiness probe).
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.run(|conn| {
            conn.batch_execute("SELECT 1")?;
            Ok(())
        })
        .await
    }
}

/// A transaction that takes SQLite's write lock up front (`BEGIN IMMEDIATE`): a deferred
/// transaction that reads then writes can fail with `SQLITE_BUSY` without waiting for the
/// busy timeout. PostgreSQL uses an ordinary transaction.
pub fn write_transaction<T, F>(conn: &mut DbConnection, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError>,
{
    write_transaction_as(conn, f)
}

/// [`write_transaction`] for a use case that answers its own error type.
pub fn write_transaction_as<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<ApiError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let failed = |e: diesel::result::Error| E::from(ApiError::from(e));
    let DbConnection::Sqlite(sqlite) = conn else {
        let mut outcome = None;
        let done = conn.transaction(|conn| match f(conn) {
            Ok(value) => Ok(value),
            Err(e) => {
                outcome = Some(e);
                Err(diesel::result::Error::RollbackTransaction)
            }
        });
        return match (done, outcome) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(failed(e)),
        };
    };
    // Through diesel's transaction manager, so nested transactions inside `f` (diesel's own
    // batch inserts, for instance) become savepoints.
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE").map_err(failed)?;
    let result = f(conn);
    let DbConnection::Sqlite(sqlite) = conn else {
        unreachable!("the connection does not change backend")
    };
    match result {
        Ok(value) => match AnsiTransactionManager::commit_transaction(sqlite) {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                Err(failed(e))
            }
        },
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(sqlite);
            Err(e)
        }
    }
}

/// Vacuums and analyzes these PostgreSQL tables now rather than at autovacuum's next pass:
/// right after a bulk import the planner still sees the tables as they were (the first
/// registry lists after a 60,000-student import took over 2 s each), and index-only scans
/// still visit the table until the visibility map is set. About 0.3 s for 60,000 students.
/// SQLite plans without statistics. `tables` are our own table names, never user input.
pub fn refresh_statistics(conn: &mut DbConnection, tables: &[&str]) -> Result<(), ApiError> {
    if let DbConnection::Postgresql(pg) = conn {
        diesel::connection::SimpleConnection::batch_execute(
            pg,
            &format!("VACUUM (ANALYZE) {}", tables.join(", ")),
        )?;
    }
    Ok(())
}

/// A multi-row INSERT. MultiConnection cannot build one (the two backends spell DEFAULT
/// differently), so it is written per backend; use it only for bulk paths such as imports.
macro_rules! batch_insert {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite(c) => {
                diesel::insert_into($table).values($rows).execute(c)?
            }
            $crate::db::DbConnection::Postgresql(c) => {
                diesel::insert_into($table).values($rows).execute(c)?
            }
        }
    };
}
pub(crate) use batch_insert;

/// Restricts a boxed query to students enrolled in a composante and/or a year, through a
/// subquery on enrolments that is not correlated to the outer query: the database starts from
/// the enrolments index and looks up only those students. (MultiConnection cannot box the
/// subquery, hence one arm per combination.)
macro_rules! filter_enrolled {
    ($query:expr, $student_id:expr, $composante:expr, $year:expr) => {{
        use $crate::db::schema::enrolments as e;
        match ($composante, $year) {
            (Some(c), Some(y)) => $query.filter(
                $student_id.eq_any(
                    e::table
                        .filter(e::composante.eq(c))
                        .filter(e::academic_year.eq(y))
                        .select(e::student_id),
                ),
            ),
            (Some(c), None) => $query.filter(
                $student_id.eq_any(e::table.filter(e::composante.eq(c)).select(e::student_id)),
            ),
            (None, Some(y)) => $query.filter(
                $student_id.eq_any(
                    e::table
                        .filter(e::academic_year.eq(y))
                        .select(e::student_id),
                ),
            ),
            (None, None) => $query,
        }
    }};
}
pub(crate) use filter_enrolled;

/// Restricts a boxed query on students to those matching a search: a student-number prefix,
/// or names whose words start with each of the (at most three) words typed (the number is a
/// term as well) — index ranges on
/// `students.cod_etu` and `student_terms`, so the search stays fast on large registries.
macro_rules! filter_search {
    ($query:expr, $q:expr) => {{
        use $crate::db::schema::{student_terms as t, students as s};
        use $crate::domain::text::{prefix_upper_bound, search_terms};
        match $q.map(str::trim).filter(|q: &&str| !q.is_empty()) {
            None => $query,
            Some(q) => {
                let number =
                    (s::cod_etu.ge(q.to_owned())).and(s::cod_etu.lt(prefix_upper_bound(q)));
                let words = search_terms(&[q]);
                let word = |i: usize| {
                    let w = words.get(i).or(words.last()).cloned().unwrap_or_default();
                    let upper = prefix_upper_bound(&w);
                    s::id.eq_any(
                        t::table
                            .filter(t::term.ge(w))
                            .filter(t::term.lt(upper))
                            .select(t::student_id),
                    )
                };
                // Student numbers are terms too, so a number prefix is a term range: one
                // semi-join the planner drives from the terms index (an OR with a students
                // column made PostgreSQL scan every student).
                match words.len() {
                    0 => $query.filter(number),
                    1 => $query.filter(word(0)),
                    2 => $query.filter(word(0).and(word(1))),
                    _ => $query.filter(word(0).and(word(1)).and(word(2))),
                }
            }
        }
    }};
}
pub(crate) use filter_search;

/// The file of a SQLite URL (None for PostgreSQL or an in-memory database).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    match parse_url(url) {
        (Backend::Sqlite, path) if !path.is_empty() && !path.starts_with(':') => Some(path.into()),
        _ => None,
    }
}

/// `sqlite://path`, `sqlite:path`, a bare path, or `postgres(ql)://…`.
fn parse_url(url: &str) -> (Backend, String) {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (Backend::Postgres, url.to_owned())
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        (Backend::Sqlite, path.to_owned())
    }
}

/// Current UTC time, truncated to microseconds so both backends store the same value.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let now = chrono::Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            parse_url("sqlite://data/x.db"),
            (Backend::Sqlite, "data/x.db".into())
        );
        assert_eq!(parse_url("x.db"), (Backend::Sqlite, "x.db".into()));
        assert_eq!(parse_url("postgres://u@h/db").0, Backend::Postgres);
        assert_eq!(parse_url("postgresql://u@h/db").0, Backend::Postgres);
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("a%b_c\\"), "a\\%b\\_c\\\\");
    }

    #[test]
    fn sqlite_is_created_migrated_and_configured() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/p.db", dir.path().display());
        let db = Db::connect(&url, 2, 1000).unwrap();
        assert!(dir.path().join("sub/p.db").exists());
        let mut conn = db.conn().unwrap();
        #[derive(QueryableByName)]
        struct Mode {
            #[diesel(sql_type = diesel::sql_types::Text)]
            journal_mode: String,
        }
        let DbConnection::Sqlite(c) = &mut *conn else {
            panic!("sqlite")
        };
        let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
            .get_result(c)
            .unwrap();
        assert_eq!(mode.journal_mode, "wal");
        // Nothing left to apply on a second run.
        assert!(db.migrate().unwrap().is_empty());
    }
}
