//! Running the HTTP server (used by `passerelle serve` and by the integration tests).

use std::net::TcpListener;

use actix_web::HttpServer;

use crate::app::{self, Shared};
use crate::config::Config;
use crate::db::Db;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] crate::db::DbSetupError),
    #[error(transparent)]
    Keys(#[from] crate::auth::jwt::JwtSetupError),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(
        "storage.url names a shared store, so several instances may run: configure {0} (the same on every instance) instead of a secret created under the data directory"
    )]
    SharedSecrets(String),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("auth.issuers: {0}")]
    Oidc(String),
}

/// Opens the database (migrating it) and prepares everything the workers share.
pub fn prepare(config: Config) -> Result<Shared, StartError> {
    let db = open_database(&config)?;
    Shared::new(config, db)
}

/// Opens the configured database: the data directory and a new SQLite file are made
/// private, and temporary uploads a crash left behind are removed.
pub fn open_database(config: &Config) -> Result<Db, StartError> {
    let data_dir_error = |e| StartError::DataDir(config.data_dir.display().to_string(), e);
    crate::storage::private_dir(&config.data_dir).map_err(data_dir_error)?;
    let removed = crate::storage::remove_abandoned_uploads(&config.data_dir.join("tmp"));
    if removed > 0 {
        tracing::info!(removed, "temporary uploads left by a crash removed");
    }
    // A new SQLite database is created private (0600), and an older one made so; SQLite
    // gives its -wal and -shm files the database file's permissions.
    let sqlite = crate::db::sqlite_path(&config.database_url());
    if let Some(path) = &sqlite
        && !path.exists()
    {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::storage::private_dir(dir).map_err(data_dir_error)?;
        }
        crate::storage::private_file(path).map_err(data_dir_error)?;
    }
    let db = Db::connect(
        &config.database_url(),
        config.database_pool_size,
        config.database_busy_timeout_ms,
    )?;
    if let Some(path) = &sqlite {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(error = %e, "cannot make the SQLite database private (0600)");
        }
    }
    Ok(db)
}

/// Binds the listener; returns the server future and the bound address (port 0 picks one).
pub fn start(
    shared: Shared,
    listener: Option<TcpListener>,
) -> Result<(actix_web::dev::Server, std::net::SocketAddr), StartError> {
    let config = shared.state.config.clone();
    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(config.bind)
            .map_err(|e| StartError::Bind(config.bind.to_string(), e))?,
    };
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind(config.bind.to_string(), e))?;
    if let Some(metrics_addr) = config.metrics_bind {
        let state = shared.state.clone();
        let metrics_server = HttpServer::new(move || {
            actix_web::App::new().app_data(state.clone()).route(
                "/metrics",
                actix_web::web::get().to(
                    |state: actix_web::web::Data<crate::state::AppState>| async move {
                        crate::api::metrics::render(&state).await
                    },
                ),
            )
        })
        .workers(1)
        .bind(metrics_addr)
        .map_err(|e| StartError::Bind(metrics_addr.to_string(), e))?
        .run();
        actix_web::rt::spawn(metrics_server);
    }
    crate::jobs::start(
        shared.state.db.clone(),
        config.jobs.clone(),
        crate::jobs::handlers(&shared.state),
    );
    {
        let refusals = shared.state.refusals.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                refusals.flush(std::time::Instant::now());
            }
        });
    }
    let mut server = HttpServer::new(move || app::build(shared.clone()));
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server
        .listen(listener)
        .map_err(|e| StartError::Bind(addr.to_string(), e))?
        .run();
    Ok((server, addr))
}
