//! The `passerelle` command line: serve, migrate, openapi, token, apikey, import, split,
//! grades, sync, erase.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use passerelle::auth::{Role, apikey, jwt};
use passerelle::config::{Config, LogFormat};
use passerelle::db::{self, Db};

#[derive(Parser)]
#[command(
    name = "passerelle",
    version,
    about = "REST gateway between Apogée, ScoDoc, the ENT and Digiposte"
)]
struct Cli {
    /// TOML configuration file (environment variables PASSERELLE_* override it).
    #[arg(long, global = true, env = "PASSERELLE_CONFIG")]
    config: Option<PathBuf>,
    /// Log line format (overrides `log_format`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve {
        /// Listen address (overrides `bind`).
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Mint a JWT from the configured HS256 secret (development and tests), or inspect a token.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Token {
        #[command(subcommand)]
        command: Option<TokenCommand>,
        #[arg(long, value_enum, required = true)]
        role: Option<RoleArg>,
        /// Subject (`sub`); defaults to the role's name.
        #[arg(long)]
        sub: Option<String>,
        /// A composante the manager manages (repeat for several).
        #[arg(long = "composante")]
        composantes: Vec<String>,
        /// The student's number (COD_ETU), for `--role student`.
        #[arg(long)]
        cod_etu: Option<String>,
        /// A service scope (repeat for several).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 90s, 15m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Manage service API keys.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Import data offline (same code path as the API).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Split a batch PDF offline: writes DIR/<cod_etu>.pdf and DIR/manifest.json. On refusal,
    /// prints the problem (with its `code`) as JSON and exits with status 2.
    Split {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The document kind's code (`releve_notes`, `attestation_reussite`, a configured
        /// one; `releve` and `attestation` still read); default: `split.kind`.
        #[arg(long)]
        kind: Option<String>,
        /// Accept this Producer/Creator substring too (repeat for several).
        #[arg(long = "allow-producer")]
        allow_producers: Vec<String>,
    },
    /// Grade transfers (ScoDoc → Apogée), offline.
    Grades {
        #[command(subcommand)]
        command: GradesCommand,
    },
    /// Erase (anonymise) personal data.
    Erase {
        #[command(subcommand)]
        command: EraseCommand,
    },
    /// Exit 0 when the server at `bind` answers /health/ready (for container health checks).
    Health,
    /// Synchronise with Digiposte now.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// Ask Digiposte (the partner API) something.
    Digiposte {
        #[command(subcommand)]
        command: DigiposteCommand,
    },
}

#[derive(Subcommand)]
enum DigiposteCommand {
    /// Print the partner's document natures (`GET /profile/documents`, as Digiposte answers),
    /// to choose the codes of `digiposte.document_types.<kind>`.
    DocumentTypes,
}

#[derive(Subcommand)]
enum SyncCommand {
    /// Read Digiposte's memberships and update the vaults' statuses, accepted and personalised.
    Vaults,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import an Apogée enrolment extraction (CSV, or JSON when the file ends in .json).
    Students { file: PathBuf },
}

#[derive(Subcommand)]
enum GradesCommand {
    /// Fill (or check) an Apogée maquette from a grade file, as `POST /grade-transfers` does:
    /// writes the file to import into Apogée (ISO-8859-1, CRLF) and prints the report. On
    /// refusal, prints the problem (with its `code`, `section`, `line`) as JSON and exits 2.
    Fill {
        /// The maquette Apogée exported (.TXT).
        maquette: PathBuf,
        /// ScoDoc's export (zip or filled .TXT), or a CSV/JSON of nip, element, note, result.
        #[arg(long)]
        source: PathBuf,
        /// Where to write the filled maquette.
        #[arg(long)]
        out: PathBuf,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Accept a maquette whose last row is cut short (left as read, named in the report).
        #[arg(long)]
        accept_truncated_last_row: bool,
    },
}

#[derive(Subcommand)]
enum EraseCommand {
    /// Anonymise a student and delete their stored documents.
    Student { cod_etu: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print the principal a token maps to (verified as the server would: keys of
    /// `auth.issuers` fetched from the provider), or why it maps to none.
    Inspect { token: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Admin,
    Manager,
    Student,
    Service,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Manager => Role::Manager,
            RoleArg::Student => Role::Student,
            RoleArg::Service => Role::Service,
        }
    }
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create a key; it is printed once and never shown again.
    Create {
        #[arg(long)]
        name: String,
        /// A scope granted to the key (repeat for several), e.g. vaults:read.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Limit the key to these composantes (repeat; none = all).
        #[arg(long = "composante")]
        composantes: Vec<String>,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id or name.
    Revoke { id_or_name: String },
}

/// `passerelle token inspect`: the same checks as the server's, on one token.
fn inspect_token(config: &Config, token: &str) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use passerelle::auth::oidc;
    let issuers = oidc::Issuers::from_config(&config.auth)?;
    let outcome = actix_web::rt::System::new().block_on(async {
        match oidc::authenticate(&issuers, &config.auth.jwt_issuer, token).await {
            Ok(Some(principal)) => Ok(principal),
            Ok(None) => jwt::JwtKeys::from_config(&config.auth, &config.data_dir)
                .map_err(|e| e.to_string())?
                .verify(token)
                .map_err(|e| e.detail.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    match outcome {
        Ok(principal) => {
            println!("{}", serde_json::to_string_pretty(&principal)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            eprintln!("no principal: {why}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("passerelle: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(f) = cli.log_format {
        config.log_format = match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    passerelle::telemetry::init(config.log_format, &config.log_level);
    match run(cli.command, config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("passerelle: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, mut config: Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match command {
        Command::Serve { bind } => {
            config.bind = bind.unwrap_or(config.bind);
            config.check_for_serve()?;
            serve(config)?;
        }
        Command::Migrate => {
            let db = open_db(&config)?;
            let applied = db.migrate()?;
            println!(
                "database up to date ({} migration(s) applied now)",
                applied.len()
            );
        }
        Command::Openapi { out } => {
            let json = passerelle::api::spec_json(&passerelle::app::openapi_spec_for(&config));
            match out {
                Some(path) => std::fs::write(path, json)?,
                None => print!("{json}"),
            }
        }
        Command::Token {
            command: Some(TokenCommand::Inspect { token }),
            ..
        } => {
            return inspect_token(&config, token.trim());
        }
        Command::Token {
            command: None,
            role,
            sub,
            composantes,
            cod_etu,
            scopes,
            ttl,
        } => {
            mint_token(&config, role, sub, composantes, cod_etu, scopes, &ttl)?;
        }
        Command::Apikey { command } => {
            return apikey_command(&config, command);
        }
        Command::Import {
            command: ImportCommand::Students { file },
        } => import_students(&config, &file)?,
        Command::Erase {
            command: EraseCommand::Student { cod_etu },
        } => erase_student(&config, cod_etu)?,
        Command::Split {
            file,
            out,
            kind,
            allow_producers,
        } => return split(config, &file, &out, kind, allow_producers),
        Command::Grades {
            command:
                GradesCommand::Fill {
                    maquette,
                    source,
                    out,
                    json,
                    accept_truncated_last_row,
                },
        } => {
            let options = passerelle::apogee::fill::FillOptions {
                accept_truncated_last_row,
                ..config.grades.fill.clone()
            };
            return grades_fill(&maquette, &source, &out, json, &options);
        }
        Command::Sync {
            command: SyncCommand::Vaults,
        } => {
            let client = digiposte_client(&config)?;
            let db = open_db(&config)?;
            let report = actix_web::rt::System::new().block_on(async move {
                passerelle::jobs::sync::sync_vaults(&db, &client, "system:cli", None).await
            })?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Digiposte {
            command: DigiposteCommand::DocumentTypes,
        } => {
            use passerelle::digiposte::DigiposteApi;
            let client = digiposte_client(&config)?;
            let list = actix_web::rt::System::new()
                .block_on(async move { client.document_types().await })?;
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        Command::Health => {
            return Ok(if health(config.bind) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `token`: mints a token with the configured signing key.
fn mint_token(
    config: &Config,
    role: Option<RoleArg>,
    sub: Option<String>,
    composantes: Vec<String>,
    cod_etu: Option<String>,
    scopes: Vec<String>,
    ttl: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let keys = jwt::JwtKeys::from_config(&config.auth, &config.data_dir)?;
    let lifetime = jwt::parse_ttl(ttl)?;
    if lifetime > keys.max_lifetime() {
        return Err(format!(
            "--ttl {ttl} is longer than auth.max_token_lifetime ({} s): such a token would be refused",
            keys.max_lifetime()
        )
        .into());
    }
    let now = jsonwebtoken::get_current_timestamp();
    let role = Role::from(role.ok_or("--role is required")?);
    let claims = jwt::Claims {
        sub: sub.unwrap_or_else(|| format!("{role:?}").to_lowercase()),
        iss: String::new(),
        aud: String::new(),
        exp: now + lifetime,
        iat: now,
        role,
        composantes,
        cod_etu,
        scopes,
        name: None,
    };
    println!("{}", keys.mint(claims)?);
    Ok(())
}

/// `apikey create|list|revoke`.
fn apikey_command(
    config: &Config,
    command: ApikeyCommand,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    match command {
        ApikeyCommand::Create {
            name,
            scopes,
            composantes,
        } => {
            let created = apikey::create(&mut conn, &name, &scopes, &composantes)?;
            eprintln!(
                "key {} created; store it now, it will not be shown again:",
                created.id
            );
            println!("{}", created.key);
        }
        ApikeyCommand::List => {
            for k in db::api_keys::list(&mut conn)? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\tscopes=[{}]\tcomposantes=[{}]\tlast_used={}",
                    k.id,
                    k.name,
                    state,
                    k.scopes,
                    k.composantes,
                    k.last_used_at
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
        ApikeyCommand::Revoke { id_or_name } => {
            let n = db::api_keys::revoke(&mut conn, &id_or_name, db::now())?;
            if n == 0 {
                eprintln!("no active key with id or name {id_or_name}");
                return Ok(ExitCode::FAILURE);
            }
            println!("revoked {n} key(s)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The Digiposte client of the configuration, for the commands that call it.
fn digiposte_client(
    config: &Config,
) -> Result<passerelle::digiposte::DigiposteClient, Box<dyn std::error::Error>> {
    if !config.digiposte.is_configured() {
        return Err("digiposte.base_url is not set (PASSERELLE_DIGIPOSTE__BASE_URL)".into());
    }
    Ok(passerelle::digiposte::DigiposteClient::new(
        &config.digiposte,
    )?)
}

/// `import students FILE`: the extraction imported as `POST /students/import` does it.
fn import_students(
    config: &Config,
    file: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(file)?;
    let is_json = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let ctx = services(config)?;
    let file = passerelle::services::students::Extraction {
        bytes: &bytes,
        is_json,
        auto_subscribe: config.vaults.auto_subscribe,
    };
    let caller = passerelle::services::context::Caller::command_line();
    let report = actix_web::rt::System::new()
        .block_on(passerelle::services::students::import(&ctx, &caller, file))
        .map_err(problem_line)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `erase student COD_ETU`: the erasure of `POST /students/{cod_etu}/erase`.
fn erase_student(config: &Config, cod_etu: String) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = services(config)?;
    let actor = passerelle::services::context::Caller::command_line().name;
    let report = actix_web::rt::System::new()
        .block_on(passerelle::services::students::erase(&ctx, &actor, cod_etu))
        .map_err(problem_line)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// What the offline use cases reach: the configured database, store and audit key (no HTTP
/// state, no workers).
fn services(
    config: &Config,
) -> Result<passerelle::services::context::Context, Box<dyn std::error::Error>> {
    Ok(passerelle::services::context::Context {
        db: passerelle::server::open_database(config)?,
        store: passerelle::storage::from_config(config)?,
        audit_key: std::sync::Arc::new(passerelle::app::audit_key(config)?),
        year: config.current_academic_year(),
    })
}

/// A use case's refusal as the command line prints it: its problem code and detail.
fn problem_line(e: impl Into<passerelle::error::ApiError>) -> Box<dyn std::error::Error> {
    let e = e.into();
    format!("{}: {}", e.code, e.detail).into()
}

fn split(
    config: Config,
    file: &std::path::Path,
    out: &std::path::Path,
    kind: Option<String>,
    allow_producers: Vec<String>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let kind = match kind {
        Some(kind) => passerelle::pdf::DocumentKindCode::try_from(kind)?,
        None => config.split.kind.clone(),
    };
    let mut cfg = config.split.for_kind(&config.document_kinds(), &kind);
    cfg.producer_allow_list.extend(allow_producers);
    let bytes = std::fs::read(file)?;
    match passerelle::pdf::split(&bytes, &cfg, &mut |_, _| {}) {
        Ok(outcome) => {
            let manifest =
                passerelle::pdf::output::write_outcome(&outcome, out, cfg.thread_count())?;
            eprintln!(
                "{} pages, {} documents, {} skipped page(s) written to {}",
                manifest.pages,
                manifest.documents.len(),
                manifest.skipped.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => {
            let problem = passerelle::error::ApiError::from(refusal).problem();
            println!("{}", serde_json::to_string_pretty(&problem)?);
            Ok(ExitCode::from(2))
        }
    }
}

fn grades_fill(
    maquette: &std::path::Path,
    source: &std::path::Path,
    out: &std::path::Path,
    json: bool,
    options: &passerelle::apogee::fill::FillOptions,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let maquette = std::fs::read(maquette)?;
    let source = std::fs::read(source)?;
    match passerelle::apogee::transfer(
        &maquette,
        passerelle::apogee::TransferSource::File(&source),
        options,
    ) {
        Ok((bytes, report)) => {
            std::fs::write(out, &bytes)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            eprintln!(
                "{} written ({} cell(s) changed; Apogée expects it as {})",
                out.display(),
                report.diff.changes.len(),
                report
                    .output_file_name
                    .as_deref()
                    .unwrap_or("(no apoC_Fichier_Exp)")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => {
            let problem = passerelle::error::ApiError::from(refusal).problem();
            println!("{}", serde_json::to_string_pretty(&problem)?);
            Ok(ExitCode::from(2))
        }
    }
}

fn health(bind: std::net::SocketAddr) -> bool {
    use std::io::{Read, Write};
    let mut addr = bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let Ok(mut stream) =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(3)));
    if stream
        .write_all(b"GET /health/ready HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = [0u8; 16];
    stream.read(&mut reply).is_ok_and(|n| {
        reply[..n].starts_with(b"HTTP/1.1 200") || reply[..n].starts_with(b"HTTP/1.0 200")
    })
}

fn open_db(config: &Config) -> Result<Db, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&config.data_dir)?;
    Ok(Db::connect(
        &config.database_url(),
        config.database_pool_size,
        config.database_busy_timeout_ms,
    )?)
}

#[actix_web::main]
async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let shared = passerelle::server::prepare(config)?;
    let (server, addr) = passerelle::server::start(shared, None)?;
    tracing::info!(%addr, "passerelle listening; Swagger UI at /swagger-ui/");
    server.await?;
    Ok(())
}
