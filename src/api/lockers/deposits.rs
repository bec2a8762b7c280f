//! Deposits: making one, seeing one, its file; changing or deleting one is always refused.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use utoipa::ToSchema;

use super::{field_error, me};
use crate::api::upload::{self, check_type, safe_file_name};
use crate::auth::{DataScope, Principal, Role};
use crate::domain::locker;
use crate::error::{ApiError, ErrorCode};
use crate::services::lockers::deposits::{
    self as service, DepositCommand, DepositDetail, Receipt, ReceivedDocument, Sender,
};
use crate::state::AppState;

/// The multipart form of `POST /lockers/deposits`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DepositForm {
    /// The document. Its type is detected on its content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The title recipients see (at most 200 characters).
    title: String,
    /// Recipients, comma-separated or as a JSON array: `student:<COD_ETU>`, `manager:<sub>`,
    /// `admin:<sub>`, `etape:<COD_ETP>` (the étape's validly enrolled students this year),
    /// `group:<name>`.
    recipients: String,
    /// The id of the sender's previous deposit this one is a new version of.
    replaces: Option<String>,
}

/// The caller as the sender of a deposit.
fn sender(principal: &Principal, id: String, scope: DataScope) -> Sender {
    let student = (principal.role == Role::Student)
        .then(|| principal.cod_etu.clone())
        .flatten();
    Sender {
        id,
        scope,
        actor: principal.actor(),
        // Staff are shown by the name their token gave when they deposited; students by the
        // registry.
        name: principal.name.clone().filter(|_| student.is_none()),
        student,
    }
}

/// Deposits a document into the lockers of users and groups ("Déposer dans un casier").
/// The file is hashed and time-stamped at receipt; nothing is recorded unless everything
/// (recipients, type, size, quota, version) is right — one transaction, with its audit entry.
#[utoipa::path(
    operation_id = "createLockerDeposit",
    tag = "lockers",
    request_body(content = DepositForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Receipt, description = "Deposited; the receipt proves what and when"),
        (status = 409, description = "`replaces` names a deposit that already has a newer version (`deposit_superseded`)"),
        (status = 413, description = "The file is over the size limit (`file_too_large`) or the sender's quota (`quota_exceeded`)"),
        (status = 415, description = "Not a multipart form"),
        (status = 422, description = "Invalid fields, a recipient that does not exist (`unknown_recipient`), an empty file, or a type not accepted (`forbidden_file_type`)"),
        (status = 507, description = "The data directory cannot take the file"),
    )
)]
#[post("/lockers/deposits")]
pub(super) async fn deposit(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (me, scope) = me(&state, &principal).await?;
    if upload::media_type(&req) != "multipart/form-data" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            crate::i18n::Text::fixed(
                "envoyez le dépôt en multipart/form-data avec les parties `file`, `title` et `recipients`",
                "send the deposit as multipart/form-data with `file`, `title` and `recipients` parts",
            ),
        ));
    }
    let config = &state.config.lockers;
    let form = upload::form(&req, payload, &state.config.limits);
    let tmp = state.config.data_dir.join("tmp");
    let max = config.max_file_bytes;
    let mut form = upload::receive_form(form, &tmp, "file", max, ErrorCode::FileTooLarge).await?;
    let title = form.required("title")?.trim().to_owned();
    if title.chars().count() > 200 {
        return Err(field_error(
            "title",
            "length",
            crate::i18n::Text::fixed("200 caractères au plus", "at most 200 characters"),
        ));
    }
    let addressed = locker::split_recipients(form.required("recipients")?);
    if addressed.len() > 500 {
        let message = crate::i18n::Text::fixed(
            "500 destinataires au plus par dépôt",
            "at most 500 recipients per deposit",
        );
        return Err(field_error("recipients", "length", message));
    }
    let command = DepositCommand {
        title,
        addressed,
        replaces: form.optional("replaces").map(|s| s.trim().to_owned()),
        year: state.config.current_academic_year(),
        quota: config.quota_bytes,
    };
    let file = form.take_file("file")?;
    let received = ReceivedDocument {
        media_type: check_type(&file, &config.allowed_types).await?,
        file_name: safe_file_name(file.file_name.as_deref(), "document"),
        temp: &file.temp,
        sha256: file.sha256.clone(),
        size: file.size as i64,
    };
    let sender = sender(&principal, me, scope);
    let receipt = service::deposit(&state.context(), sender, command, received).await?;
    drop(file);
    let location = format!("/lockers/deposits/{}", receipt.id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(receipt))
}

/// One deposit (sender or recipient; anyone else: 404), with its version chain.
#[utoipa::path(
    operation_id = "getLockerDeposit",
    tag = "lockers",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 200, body = DepositDetail),
        (status = 404, description = "No such deposit among the caller's sent or received ones"),
    )
)]
#[get("/lockers/deposits/{id}")]
pub(super) async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<DepositDetail>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let id = id.into_inner();
    let detail = state
        .context()
        .read(move |conn| service::detail(conn, &me, &id))
        .await?;
    Ok(web::Json(detail))
}

async fn immutable(state: &AppState, principal: &Principal, id: String) -> ApiError {
    let (me, _) = match me(state, principal).await {
        Ok(v) => v,
        Err(e) => return e,
    };
    let refusal = state
        .context()
        .read(move |conn| Ok::<_, ApiError>(service::refuse_change(conn, &me, &id).into()))
        .await;
    refusal.unwrap_or_else(|e| e)
}

/// Always refused: a deposit is immutable once made ("il n'est pas possible de le modifier").
#[utoipa::path(
    operation_id = "updateLockerDeposit",
    tag = "lockers",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 409, description = "Deposits are immutable (`deposit_immutable`): deposit a new version with `replaces`"),
        (status = 404, description = "No such deposit among the caller's sent or received ones"),
    )
)]
#[put("/lockers/deposits/{id}")]
pub(super) async fn update_refused(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Err(immutable(&state, &principal, id.into_inner()).await)
}

/// Always refused: a deposit cannot be deleted once made ("ni de le supprimer a posteriori");
/// recipients move their copy to the trash instead.
#[utoipa::path(
    operation_id = "deleteLockerDeposit",
    tag = "lockers",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 409, description = "Deposits are immutable (`deposit_immutable`)"),
        (status = 404, description = "No such deposit among the caller's sent or received ones"),
    )
)]
#[delete("/lockers/deposits/{id}")]
pub(super) async fn delete_refused(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Err(immutable(&state, &principal, id.into_inner()).await)
}

/// Downloads a deposit's file (sender and recipients only; anyone else: 404). A recipient's
/// copy is marked read.
#[utoipa::path(
    operation_id = "downloadLockerDepositFile",
    tag = "lockers",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 200, description = "The file, with its detected media type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such deposit among the caller's sent or received ones"),
    )
)]
#[get("/lockers/deposits/{id}/file")]
pub(super) async fn download(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let (d, bytes) = service::open_file(&state.context(), me, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type(d.media_type.as_str())
        .insert_header((
            "Content-Disposition",
            upload::content_disposition("attachment", &d.file_name),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header(("Digest", format!("sha-256={}", d.sha256)))
        .body(bytes))
}
