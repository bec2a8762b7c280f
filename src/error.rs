//! One error type for the whole API: [`ApiError`] renders RFC 9457 `application/problem+json`
//! with a stable snake_case `code` drawn from the single [`ErrorCode`] table below.
//! Domain errors convert into it; handlers only ever return `Result<_, ApiError>`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::i18n::{self, Lang, Localized, Text};
use crate::text;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($status:ident, $code:literal, $title:literal) ),* $(,)?) => {
        /// Every problem `code` passerelle can answer, with its HTTP status and title.
        /// The OpenAPI component `ErrorCode` is generated from this table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $( $(#[$doc])* $variant ),* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant ),* ];

            pub fn status(self) -> StatusCode {
                match self { $( ErrorCode::$variant => StatusCode::$status ),* }
            }

            pub fn title(self) -> &'static str {
                match self { $( ErrorCode::$variant => $title ),* }
            }

            /// The snake_case code, as serialized.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code ),* }
            }
        }
    };
}

error_codes! {
    // Generic HTTP layer.
    /// Malformed request (bad query string, bad path parameter, bad header).
    BadRequest = (BAD_REQUEST, "bad_request", "Bad request"),
    /// The JSON body could not be parsed.
    MalformedJson = (BAD_REQUEST, "malformed_json", "Malformed JSON body"),
    /// A query parameter the operation does not know.
    UnknownParameter = (BAD_REQUEST, "unknown_parameter", "Unknown query parameter"),
    /// A query or path parameter has a value of the wrong shape (e.g. an unknown enum value).
    InvalidParameter = (BAD_REQUEST, "invalid_parameter", "Invalid parameter"),
    /// Fields failed validation; `errors` lists each one.
    ValidationFailed = (UNPROCESSABLE_ENTITY, "validation_failed", "Validation failed"),
    /// Missing, expired or invalid credentials.
    Unauthenticated = (UNAUTHORIZED, "unauthenticated", "Authentication required"),
    /// Authenticated, but this principal may not perform this operation.
    Forbidden = (FORBIDDEN, "forbidden", "Forbidden"),
    /// A valid token of a trusted OpenID provider whose claims make no passerelle role
    /// (the detail names the claims looked at, never their values).
    NoRoleForToken = (FORBIDDEN, "no_role_for_token", "The token maps to no role"),
    /// No such route, or no such object within the caller's scope.
    NotFound = (NOT_FOUND, "not_found", "Not found"),
    /// The route exists but not for this HTTP method.
    MethodNotAllowed = (METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed"),
    /// The object already exists.
    AlreadyExists = (CONFLICT, "already_exists", "Already exists"),
    /// The object's current status does not allow this operation (`current_status` says which).
    InvalidTransition = (CONFLICT, "invalid_transition", "Operation not allowed in the current status"),
    /// The confirmed number of documents differs from what would be sent now.
    ConfirmationMismatch = (CONFLICT, "confirmation_mismatch", "Confirmation does not match"),
    /// The uploaded bytes are those of a live treatment (`treatment_id`); confirm a new
    /// treatment on purpose with `replace_of=<that id>`.
    DuplicateUpload = (CONFLICT, "duplicate_upload", "This batch was already uploaded"),
    /// The document cannot be sent now (`reason`, `reason_label`, and `earlier_document_id`
    /// for a duplicate or a correction).
    DocumentHeld = (CONFLICT, "document_held", "The document is held"),
    /// The student objected to or withdrew consent: nothing is sent for them.
    ConsentRefused = (CONFLICT, "consent_refused", "The student's consent is refused"),
    /// The enrolment file is not an Apogée extraction at all (nothing was imported).
    InvalidEnrolmentFile = (BAD_REQUEST, "invalid_enrolment_file", "Not an enrolment extraction"),
    /// The request body is larger than the configured limit.
    PayloadTooLarge = (PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large"),
    /// The request body did not arrive in time (`limits.body_idle_timeout_secs`, `limits.body_total_timeout_secs`).
    RequestTimeout = (REQUEST_TIMEOUT, "request_timeout", "Request body too slow"),
    /// The request body's media type is not accepted by this operation.
    UnsupportedMediaType = (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type"),
    /// Too many requests for this client; retry after `Retry-After` seconds.
    RateLimited = (TOO_MANY_REQUESTS, "rate_limited", "Too many requests"),
    /// The database cannot be reached right now.
    DatabaseUnavailable = (SERVICE_UNAVAILABLE, "database_unavailable", "Database unavailable"),
    /// The document store cannot take the file (disk full or unwritable); nothing was registered.
    StorageUnavailable = (INSUFFICIENT_STORAGE, "storage_unavailable", "Document storage unavailable"),
    // The uploaded batch PDF (validation by the PDF core).
    /// The uploaded file is empty.
    EmptyFile = (UNPROCESSABLE_ENTITY, "empty_file", "Empty file"),
    /// The uploaded file is not a PDF.
    NotAPdf = (UNPROCESSABLE_ENTITY, "not_a_pdf", "Not a PDF"),
    /// The uploaded file is over the configured size limit.
    FileTooLarge = (PAYLOAD_TOO_LARGE, "file_too_large", "File too large"),
    /// The PDF is truncated or its structure is broken.
    CorruptPdf = (UNPROCESSABLE_ENTITY, "corrupt_pdf", "Damaged PDF"),
    /// The PDF is encrypted.
    EncryptedPdf = (UNPROCESSABLE_ENTITY, "encrypted_pdf", "Encrypted PDF"),
    /// The pages are images without text (a scan).
    ScannedPdf = (UNPROCESSABLE_ENTITY, "scanned_pdf", "Scanned PDF"),
    /// The PDF was changed after Apogée edited it.
    ModifiedPdf = (UNPROCESSABLE_ENTITY, "modified_pdf", "Modified PDF"),
    /// The PDF's producer is not Apogée (see the configured allow-list).
    NotFromApogee = (UNPROCESSABLE_ENTITY, "not_from_apogee", "Not an Apogée edition"),
    /// No page carries a student number.
    NoStudentFound = (UNPROCESSABLE_ENTITY, "no_student_found", "No student found"),
    /// An attestation page has no student number (attestations have one page per student).
    AttestationContinuation = (UNPROCESSABLE_ENTITY, "attestation_continuation", "Attestation page without a student"),
    /// The PDF is too complex to process safely (nesting, sizes, page count).
    TooComplexPdf = (UNPROCESSABLE_ENTITY, "too_complex_pdf", "PDF too complex"),
    /// The pages are of another kind than the one declared (`declared`, `found`).
    DocumentKindMismatch = (UNPROCESSABLE_ENTITY, "document_kind_mismatch", "The pages are of another kind of document"),
    /// The declared document kind is not one of the configured kinds (`known_kinds` lists them).
    UnknownDocumentKind = (UNPROCESSABLE_ENTITY, "unknown_document_kind", "Unknown document kind"),
    /// The pages are printed for another academic year than the one declared (`declared`, `found`).
    AcademicYearMismatch = (UNPROCESSABLE_ENTITY, "academic_year_mismatch", "The pages are of another academic year"),
    // Grade transfers: the maquette, the grade source, ScoDoc.
    /// The maquette part is not an Apogée maquette (it does not start with XX-APO_TITRES-XX).
    NotAMaquette = (UNPROCESSABLE_ENTITY, "not_a_maquette", "Not an Apogée maquette"),
    /// The file is UTF-16 or binary, or holds a character ISO-8859-1 cannot hold (`section`, `line`).
    UnsupportedEncoding = (UNPROCESSABLE_ENTITY, "unsupported_encoding", "Unsupported encoding"),
    /// The maquette has a defect; `section` and `line` say where.
    InvalidMaquette = (UNPROCESSABLE_ENTITY, "invalid_maquette", "Invalid maquette"),
    /// The grade source cannot be used; `problems` lists its bad lines.
    InvalidGradeSource = (UNPROCESSABLE_ENTITY, "invalid_grade_source", "Invalid grade source"),
    /// ScoDoc's zip holds maquettes, none of the maquette's étape (`found` lists theirs).
    NoMatchingMaquette = (UNPROCESSABLE_ENTITY, "no_matching_maquette", "No maquette of this étape in the source"),
    /// A student row of the maquette does not have the cells XX-APO_COLONNES-XX declares (`line`,
    /// `cells`, `expected`); `truncated` when it is the cut last row, accepted only with
    /// `accept_truncated_last_row`.
    MaquetteMalformed = (UNPROCESSABLE_ENTITY, "maquette_malformed", "Maquette rows do not match their columns"),
    /// The source is for another étape than the maquette (`maquette`, `source`).
    EtapeMismatch = (UNPROCESSABLE_ENTITY, "etape_mismatch", "The source is for another étape"),
    /// The source is for another academic year than the maquette (`maquette`, `source`).
    YearMismatch = (UNPROCESSABLE_ENTITY, "year_mismatch", "The source is for another year"),
    /// ScoDoc cannot be reached, timed out or failed.
    ScodocUnavailable = (BAD_GATEWAY, "scodoc_unavailable", "ScoDoc unavailable"),
    /// ScoDoc refused passerelle's credentials (check `grades.scodoc.<dept>`).
    ScodocAuthFailed = (BAD_GATEWAY, "scodoc_auth_failed", "ScoDoc refused the credentials"),
    /// ScoDoc has no semester of the maquette's étape and year (or not the one asked).
    ScodocNotFound = (UNPROCESSABLE_ENTITY, "scodoc_not_found", "Not found in ScoDoc"),
    /// ScoDoc answered something passerelle cannot read.
    ScodocBadResponse = (BAD_GATEWAY, "scodoc_bad_response", "Unexpected answer from ScoDoc"),
    // Digiposte.
    /// A Digiposte receipt whose signature is missing or wrong (or no webhook secret is configured).
    WebhookSignatureInvalid = (UNAUTHORIZED, "webhook_signature_invalid", "Invalid receipt signature"),
    /// A Digiposte receipt signed more than the tolerated time ago (or in the future): a replay.
    WebhookStale = (UNAUTHORIZED, "webhook_stale", "Receipt too old"),
    /// Digiposte is not configured on this instance (`digiposte.base_url`).
    DigiposteNotConfigured = (CONFLICT, "digiposte_not_configured", "Digiposte is not configured"),
    // Lockers and supporting documents.
    /// A locker deposit is immutable: no update, no delete; deposit a new version with `replaces`.
    DepositImmutable = (CONFLICT, "deposit_immutable", "Deposit is immutable"),
    /// The deposit named in `replaces` already has a newer version (`latest_id` names it).
    DepositSuperseded = (CONFLICT, "deposit_superseded", "Deposit already replaced"),
    /// A recipient does not exist or is not one the caller may address (`recipients` lists them).
    UnknownRecipient = (UNPROCESSABLE_ENTITY, "unknown_recipient", "Unknown recipient"),
    /// The deposit would take the sender over their quota (`quota_bytes`, `used_bytes`).
    QuotaExceeded = (PAYLOAD_TOO_LARGE, "quota_exceeded", "Quota exceeded"),
    /// The file's type, detected on its content, is not accepted (`detected_type` says which);
    /// executables never are.
    ForbiddenFileType = (UNPROCESSABLE_ENTITY, "forbidden_file_type", "Forbidden file type"),
    /// An unexpected server-side failure (details are in the server log, by request id).
    InternalError = (INTERNAL_SERVER_ERROR, "internal_error", "Internal server error"),
}

/// The French title of each code: the words managers and students read (the seed manuals'
/// words where they exist). A separate match over the same table, so the compiler refuses a
/// code without its French title.
impl ErrorCode {
    pub fn title_fr(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "Requête invalide",
            ErrorCode::MalformedJson => "Corps JSON illisible",
            ErrorCode::UnknownParameter => "Paramètre inconnu",
            ErrorCode::InvalidParameter => "Paramètre invalide",
            ErrorCode::ValidationFailed => "Champs invalides",
            ErrorCode::Unauthenticated => "Authentification requise",
            ErrorCode::Forbidden => "Accès refusé",
            ErrorCode::NoRoleForToken => "Le jeton ne donne aucun rôle",
            ErrorCode::NotFound => "Introuvable",
            ErrorCode::MethodNotAllowed => "Méthode non autorisée",
            ErrorCode::AlreadyExists => "Existe déjà",
            ErrorCode::InvalidTransition => "Opération impossible dans l'état actuel",
            ErrorCode::ConfirmationMismatch => "La confirmation ne correspond pas",
            ErrorCode::DuplicateUpload => "Ce lot a déjà été déposé",
            ErrorCode::DocumentHeld => "Le document est retenu",
            ErrorCode::ConsentRefused => "L'étudiant a refusé son consentement",
            ErrorCode::InvalidEnrolmentFile => {
                "Le fichier n'est pas une extraction des inscriptions"
            }
            ErrorCode::PayloadTooLarge => "Requête trop volumineuse",
            ErrorCode::RequestTimeout => "Requête trop lente",
            ErrorCode::UnsupportedMediaType => "Type de contenu non accepté",
            ErrorCode::RateLimited => "Trop de requêtes",
            ErrorCode::DatabaseUnavailable => "Base de données indisponible",
            ErrorCode::StorageUnavailable => "Stockage des documents indisponible",
            ErrorCode::EmptyFile => "Fichier vide",
            ErrorCode::NotAPdf => "Le fichier n'est pas un PDF",
            ErrorCode::FileTooLarge => "Fichier trop volumineux",
            ErrorCode::CorruptPdf => "PDF endommagé",
            ErrorCode::EncryptedPdf => "PDF chiffré",
            ErrorCode::ScannedPdf => "PDF numérisé (scan)",
            ErrorCode::ModifiedPdf => "PDF modifié après son édition",
            ErrorCode::NotFromApogee => "Le fichier n'a pas été produit par Apogée",
            ErrorCode::NoStudentFound => "Aucun étudiant trouvé",
            ErrorCode::AttestationContinuation => "Page d'attestation sans étudiant",
            ErrorCode::TooComplexPdf => "PDF trop complexe",
            ErrorCode::DocumentKindMismatch => "Les pages sont d'un autre type de document",
            ErrorCode::UnknownDocumentKind => "Type de document inconnu",
            ErrorCode::AcademicYearMismatch => "Les pages sont d'une autre année universitaire",
            ErrorCode::NotAMaquette => "Le fichier n'est pas une maquette Apogée",
            ErrorCode::UnsupportedEncoding => "Encodage non pris en charge",
            ErrorCode::InvalidMaquette => "Maquette invalide",
            ErrorCode::InvalidGradeSource => "Source des notes invalide",
            ErrorCode::NoMatchingMaquette => "Aucune maquette de cette étape dans la source",
            ErrorCode::MaquetteMalformed => {
                "Les lignes de la maquette ne correspondent pas à ses colonnes"
            }
            ErrorCode::EtapeMismatch => "La source est d'une autre étape",
            ErrorCode::YearMismatch => "La source est d'une autre année",
            ErrorCode::ScodocUnavailable => "ScoDoc indisponible",
            ErrorCode::ScodocAuthFailed => "ScoDoc a refusé les identifiants",
            ErrorCode::ScodocNotFound => "Introuvable dans ScoDoc",
            ErrorCode::ScodocBadResponse => "Réponse inattendue de ScoDoc",
            ErrorCode::WebhookSignatureInvalid => "Signature du retour invalide",
            ErrorCode::WebhookStale => "Retour trop ancien",
            ErrorCode::DigiposteNotConfigured => "Digiposte n'est pas configuré",
            ErrorCode::DepositImmutable => "Dépôt non modifiable",
            ErrorCode::DepositSuperseded => "Dépôt déjà remplacé",
            ErrorCode::UnknownRecipient => "Destinataire inconnu",
            ErrorCode::QuotaExceeded => "Quota dépassé",
            ErrorCode::ForbiddenFileType => "Type de fichier interdit",
            ErrorCode::InternalError => "Erreur interne du serveur",
        }
    }

    /// Both titles: French for people, English for programs.
    pub fn title_text(self) -> Text {
        Text::fixed(self.title_fr(), self.title())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of operation whose every member can answer the same problems. The OpenAPI
/// description documents these codes on each operation of the kind (`crate::api::problems`
/// adds an operation's own codes, declared once per operationId).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// Every operation: the rate limit, the database, an unexpected failure.
    Any,
    /// Operations that need credentials.
    Authenticated,
    /// Operations that take query parameters.
    Query,
    /// Operations that address an object by path parameters (outside the caller's scope: 404).
    Path,
    /// Operations that take a JSON body.
    JsonBody,
    /// Operations that take a streamed body (multipart form, CSV).
    StreamedBody,
}

impl OperationKind {
    pub const ALL: &'static [OperationKind] = &[
        OperationKind::Any,
        OperationKind::Authenticated,
        OperationKind::Query,
        OperationKind::Path,
        OperationKind::JsonBody,
        OperationKind::StreamedBody,
    ];

    /// The codes every operation of this kind can answer.
    pub fn codes(self) -> &'static [ErrorCode] {
        use ErrorCode::*;
        match self {
            OperationKind::Any => &[RateLimited, InternalError, DatabaseUnavailable],
            OperationKind::Authenticated => &[Unauthenticated, Forbidden, NoRoleForToken],
            OperationKind::Query => &[BadRequest, UnknownParameter, InvalidParameter],
            OperationKind::Path => &[NotFound, InvalidParameter],
            OperationKind::JsonBody => &[
                BadRequest,
                MalformedJson,
                UnsupportedMediaType,
                PayloadTooLarge,
                RequestTimeout,
                ValidationFailed,
            ],
            // Streamed bodies are spooled to the data directory while they arrive.
            OperationKind::StreamedBody => &[
                BadRequest,
                UnsupportedMediaType,
                PayloadTooLarge,
                RequestTimeout,
                ValidationFailed,
                StorageUnavailable,
            ],
        }
    }
}

/// One invalid field of a request, listed in a `validation_failed` problem.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// The field's name (dotted path for nested fields).
    pub field: String,
    /// A stable snake_case reason (e.g. `length`, `range`, `required`).
    pub code: String,
    /// What is wrong, in the language of the request.
    #[schema(value_type = String)]
    pub message: Localized,
}

/// RFC 9457 problem details, as every error response carries them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI identifying the problem type (`urn:passerelle:problem:<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    /// The request id (same as the `X-Request-Id` response header), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The invalid fields of a `validation_failed` problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Operation-specific members (e.g. `current_status`, `retry_after`).
    #[serde(flatten)]
    #[schema(additional_properties)]
    pub extensions: Map<String, Value>,
}

/// The error every handler returns.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    /// In French and English; the problem document carries the request's language (boxed:
    /// every `Result` of the crate carries this type, keep it small).
    pub detail: Box<Text>,
    pub errors: Option<Vec<FieldError>>,
    pub extensions: Map<String, Value>,
    /// Extra response headers (e.g. `Retry-After`, `Allow`, `WWW-Authenticate`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// A problem with its detail, in French and English (`text!("…", "…")`, `Text::fixed`):
    /// a bare string is refused, so no detail reaches people in one language only.
    pub fn new(code: ErrorCode, detail: impl Into<Text>) -> Self {
        ApiError {
            code,
            detail: Box::new(detail.into()),
            errors: None,
            extensions: Map::new(),
            headers: Vec::new(),
        }
    }

    /// Attach an operation-specific member to the problem body.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.extensions.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// `what` in English (`vault`, `student`…); the French detail names it in French.
    pub fn not_found(what: &str) -> Self {
        let fr = match what {
            "document file (deleted by retention)" => {
                "Fichier du document introuvable (supprimé par la durée de conservation)"
            }
            "document with this Digiposte id" => "Aucun document n'a cet identifiant Digiposte",
            "student (you are not known to passerelle yet)" => {
                "Étudiant introuvable (passerelle ne vous connaît pas encore)"
            }
            "supporting document file" => "Fichier de la pièce justificative introuvable",
            _ => "",
        };
        let fr = match what.split(' ').next().unwrap_or(what) {
            _ if !fr.is_empty() => fr.to_owned(),
            "vault" => "Coffre introuvable".to_owned(),
            "student" => "Étudiant introuvable".to_owned(),
            "treatment" => "Traitement introuvable".to_owned(),
            "document" => "Document introuvable".to_owned(),
            "composante" => "Composante introuvable".to_owned(),
            "deposit" => "Dépôt introuvable".to_owned(),
            "grade" => "Transfert de notes introuvable".to_owned(),
            "supporting" => "Pièce justificative introuvable".to_owned(),
            "consent" => "Consentement introuvable".to_owned(),
            "job" => "Tâche introuvable".to_owned(),
            "group" => "Groupe introuvable".to_owned(),
            "object" => "Objet introuvable".to_owned(),
            _ => format!("Introuvable : {what}"),
        };
        ApiError::new(
            ErrorCode::NotFound,
            Text::new(fr, format!("{what} not found")),
        )
    }

    pub fn forbidden(detail: impl Into<Text>) -> Self {
        ApiError::new(ErrorCode::Forbidden, detail)
    }

    pub fn unauthenticated(detail: impl Into<Text>) -> Self {
        ApiError::new(ErrorCode::Unauthenticated, detail)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn bad_request(detail: impl Into<Text>) -> Self {
        ApiError::new(ErrorCode::BadRequest, detail)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let fields = fields.join(", ");
        let detail = text!(
            "champ(s) invalide(s) : {fields}",
            "invalid field(s): {fields}"
        );
        ApiError {
            errors: Some(errors),
            ..ApiError::new(ErrorCode::ValidationFailed, detail)
        }
    }

    /// A failure whose cause must not reach the client; the cause is logged with the request.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            ErrorCode::InternalError,
            Text::fixed(
                "une erreur inattendue s'est produite ; donnez l'identifiant de la requête aux administrateurs",
                "an unexpected error occurred; quote the request id to the administrators",
            ),
        )
    }

    /// The problem document in the language of the request being served.
    pub fn problem(&self) -> Problem {
        self.problem_in(i18n::current())
    }

    pub fn problem_in(&self, lang: Lang) -> Problem {
        Problem {
            type_: format!("urn:passerelle:problem:{}", self.code.as_str()),
            title: self.code.title_text().get(lang).to_owned(),
            status: self.code.status().as_u16(),
            detail: self.detail.get(lang).to_owned(),
            code: self.code,
            request_id: crate::telemetry::current_request_id(),
            errors: self.errors.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let lang = i18n::current();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        response.insert_header((header::CONTENT_LANGUAGE, lang.tag()));
        response.insert_header((header::VARY, "Accept-Language"));
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.body(serde_json::to_vec(&self.problem_in(lang)).unwrap_or_default())
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut list = Vec::new();
        flatten_validation(&errors, "", &mut list);
        list.sort_by(|a, b| a.field.cmp(&b.field));
        ApiError::validation(list)
    }
}

fn flatten_validation(
    errors: &validator::ValidationErrors,
    prefix: &str,
    out: &mut Vec<FieldError>,
) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    out.push(FieldError {
                        field: path.clone(),
                        code: e.code.to_string(),
                        message: Localized(validation_message(e)),
                    });
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten_validation(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten_validation(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// A field's message in both languages, by its rule (the validator's own messages are
/// English only, so the rules' parameters are put in sentences here).
fn validation_message(e: &validator::ValidationError) -> Text {
    let param = |name: &str| e.params.get(name).map(|v| v.to_string());
    match (e.code.as_ref(), param("min"), param("max"), param("equal")) {
        ("length", _, _, Some(n)) => text!(
            "doit compter exactement {n} caractère(s) ou élément(s)",
            "must have exactly {n} character(s) or item(s)"
        ),
        ("length", Some(min), Some(max), _) => text!(
            "doit compter entre {min} et {max} caractère(s) ou élément(s)",
            "must have between {min} and {max} character(s) or item(s)"
        ),
        ("length", Some(min), None, _) => text!(
            "doit compter au moins {min} caractère(s) ou élément(s)",
            "must have at least {min} character(s) or item(s)"
        ),
        ("length", None, Some(max), _) => text!(
            "doit compter au plus {max} caractère(s) ou élément(s)",
            "must have at most {max} character(s) or item(s)"
        ),
        ("range", Some(min), Some(max), _) => text!(
            "doit être compris entre {min} et {max}",
            "must be between {min} and {max}"
        ),
        ("range", Some(min), None, _) => {
            text!("doit valoir au moins {min}", "must be at least {min}")
        }
        ("range", None, Some(max), _) => {
            text!("doit valoir au plus {max}", "must be at most {max}")
        }
        ("format", ..) => Text::fixed(
            "seulement des lettres majuscules et des chiffres",
            "only upper-case letters and digits",
        ),
        (code, ..) => {
            let mut params: Vec<_> = e
                .params
                .iter()
                .filter(|(k, _)| k.as_ref() != "value")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            params.sort();
            let params = if params.is_empty() {
                String::new()
            } else {
                format!(" ({})", params.join(", "))
            };
            text!(
                "ne respecte pas la règle `{code}`{params}",
                "failed the `{code}` rule{params}"
            )
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => ApiError::not_found("object"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => ApiError::new(
                ErrorCode::AlreadyExists,
                Text::fixed(
                    "un objet avec cette clé existe déjà",
                    "an object with this key already exists",
                ),
            ),
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                tracing::warn!(error = %info.message(), "database connection closed");
                ApiError::new(
                    ErrorCode::DatabaseUnavailable,
                    Text::fixed(
                        "la connexion à la base de données a été perdue ; réessayez",
                        "the database connection was lost; retry",
                    ),
                )
                .with_header(header::RETRY_AFTER, "5")
            }
            // SQLite's busy timeout ran out: the database is held by someone else.
            Error::DatabaseError(_, info) if info.message().contains("database is locked") => {
                tracing::warn!("database locked beyond the busy timeout");
                ApiError::new(
                    ErrorCode::DatabaseUnavailable,
                    Text::fixed(
                        "la base de données est occupée ; réessayez plus tard",
                        "the database is busy; retry later",
                    ),
                )
                .with_header(header::RETRY_AFTER, "5")
            }
            other => ApiError::internal(format!("database: {other}")),
        }
    }
}

impl From<r2d2_error::PoolError> for ApiError {
    fn from(error: r2d2_error::PoolError) -> Self {
        tracing::warn!(error = %error, "database pool exhausted or unreachable");
        ApiError::new(
            ErrorCode::DatabaseUnavailable,
            Text::fixed(
                "la base de données est indisponible ; réessayez plus tard",
                "the database is unavailable; retry later",
            ),
        )
        .with_header(header::RETRY_AFTER, "5")
    }
}

mod r2d2_error {
    pub use diesel::r2d2::PoolError;
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(error: crate::storage::StorageError) -> Self {
        match error {
            crate::storage::StorageError::Write(e) => {
                tracing::error!(error = %e, "document store write failed");
                ApiError::new(
                    ErrorCode::StorageUnavailable,
                    Text::fixed(
                        "le stockage des documents ne peut pas recevoir le fichier (disque plein ou protégé) ; rien n'a été enregistré",
                        "the document store cannot take the file (disk full or unwritable); nothing was registered",
                    ),
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::pdf::PdfError> for ApiError {
    fn from(error: crate::pdf::PdfError) -> Self {
        use crate::pdf::PdfError as P;
        let code = match &error {
            P::EmptyFile => ErrorCode::EmptyFile,
            P::NotAPdf => ErrorCode::NotAPdf,
            P::FileTooLarge { .. } => ErrorCode::FileTooLarge,
            P::CorruptPdf(_) => ErrorCode::CorruptPdf,
            P::EncryptedPdf => ErrorCode::EncryptedPdf,
            P::ScannedPdf => ErrorCode::ScannedPdf,
            P::ModifiedPdf(_) => ErrorCode::ModifiedPdf,
            P::NotFromApogee(_) => ErrorCode::NotFromApogee,
            P::NoStudentFound => ErrorCode::NoStudentFound,
            P::AttestationContinuation { .. } => ErrorCode::AttestationContinuation,
            P::TooComplexPdf(_) => ErrorCode::TooComplexPdf,
            P::DocumentKindMismatch(_) => ErrorCode::DocumentKindMismatch,
            P::UnknownDocumentKind { .. } => ErrorCode::UnknownDocumentKind,
            P::AcademicYearMismatch { .. } => ErrorCode::AcademicYearMismatch,
        };
        debug_assert_eq!(code.as_str(), error.code());
        let problem = ApiError::new(code, error.text());
        match error {
            P::DocumentKindMismatch(m) => problem
                .with("declared", m.declared.as_str())
                .with("found", m.found.as_str()),
            P::UnknownDocumentKind { known, .. } => problem.with("known_kinds", known),
            P::AcademicYearMismatch { declared, found } => problem
                .with("declared", format!("{declared}/{}", declared + 1))
                .with("found", format!("{found}/{}", found + 1)),
            _ => problem,
        }
    }
}

impl From<crate::apogee::maquette::MaquetteError> for ApiError {
    fn from(error: crate::apogee::maquette::MaquetteError) -> Self {
        use crate::apogee::maquette::MaquetteErrorKind as K;
        let code = match error.kind {
            K::Invalid => ErrorCode::InvalidMaquette,
            K::NotAMaquette => ErrorCode::NotAMaquette,
            K::Encoding => ErrorCode::UnsupportedEncoding,
            K::Malformed { .. } => ErrorCode::MaquetteMalformed,
        };
        debug_assert_eq!(code.as_str(), error.code());
        let problem = ApiError::new(code, error.text())
            .with("section", &error.section)
            .with("line", error.line);
        match error.kind {
            K::Malformed {
                cells,
                expected,
                truncated,
            } => problem
                .with("cells", cells)
                .with("expected", expected)
                .with("truncated", truncated),
            _ => problem,
        }
    }
}

impl From<crate::apogee::grades::GradeSourceError> for ApiError {
    fn from(error: crate::apogee::grades::GradeSourceError) -> Self {
        use crate::apogee::grades::GradeSourceError as G;
        match error {
            // A filled maquette (ScoDoc's) that cannot be read: same codes, named as the source.
            G::Maquette(e) => ApiError::from(e).with("part", "source"),
            G::InvalidRows(problems) => {
                let detail = G::InvalidRows(problems.clone()).text();
                ApiError::new(ErrorCode::InvalidGradeSource, detail).with("problems", problems)
            }
            other => ApiError::new(ErrorCode::InvalidGradeSource, other.text()),
        }
    }
}

impl From<crate::apogee::FillCommandError> for ApiError {
    fn from(error: crate::apogee::FillCommandError) -> Self {
        use crate::apogee::FillCommandError as F;
        match error {
            F::Maquette(e) => ApiError::from(e).with("part", "maquette"),
            F::Source(e) => ApiError::from(e),
            F::NoMatchingMaquette { ref found, .. } => {
                let found = found.clone();
                ApiError::new(ErrorCode::NoMatchingMaquette, error.text()).with("found", found)
            }
            F::EtapeMismatch {
                ref maquette,
                ref in_source,
            } => {
                let (maquette, source) = (maquette.clone(), in_source.clone());
                ApiError::new(ErrorCode::EtapeMismatch, error.text())
                    .with("maquette", maquette)
                    .with("source", source)
            }
            F::YearMismatch {
                maquette,
                in_source,
            } => ApiError::new(ErrorCode::YearMismatch, error.text())
                .with("maquette", maquette)
                .with("source", in_source),
        }
    }
}

impl From<crate::scodoc::ScoDocError> for ApiError {
    fn from(error: crate::scodoc::ScoDocError) -> Self {
        use crate::scodoc::ScoDocError as S;
        let code = match &error {
            S::Unavailable(_) => ErrorCode::ScodocUnavailable,
            S::AuthFailed(_) => ErrorCode::ScodocAuthFailed,
            S::NotFound(_) | S::NoSemester { .. } => ErrorCode::ScodocNotFound,
            S::BadResponse(_) => ErrorCode::ScodocBadResponse,
        };
        debug_assert_eq!(code.as_str(), error.code());
        tracing::warn!(error = %error, "ScoDoc call failed");
        ApiError::new(code, error.text())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::internal(format!("blocking task: {error}"))
    }
}

/// Maps a status produced outside passerelle's handlers (actix's own errors, unmatched routes)
/// to the code that best describes it, so every error response can be a problem.
pub fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::RequestTimeout,
        409 => ErrorCode::AlreadyExists,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        422 => ErrorCode::ValidationFailed,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::DatabaseUnavailable,
        s if s >= 500 => ErrorCode::InternalError,
        _ => ErrorCode::BadRequest,
    }
}

/// Turns any error response that is not yet a problem document (actix's own errors, a
/// library's plain-text answer) into one, keeping its status and protocol headers.
pub fn ensure_problem(
    response: actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
) -> actix_web::dev::ServiceResponse<actix_web::body::BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let code = code_for_status(status);
    // The status's own words in English; the code's title in French.
    let detail = Text::new(
        code.title_fr(),
        status.canonical_reason().unwrap_or("error"),
    );
    let mut error = ApiError::new(code, detail);
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = response.headers().get(&name) {
            error.headers.push((name, v.clone()));
        }
    }
    let mut problem = error.error_response();
    // Keep the original status even where several codes share one (e.g. 400).
    *problem.status_mut() = status;
    response.into_response(problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert!(seen.insert(s), "duplicate code {s}");
            // The serialized form and as_str agree.
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                Value::String(s.to_owned())
            );
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
        assert_eq!(ErrorCode::MethodNotAllowed.as_str(), "method_not_allowed");
    }

    #[test]
    fn every_code_has_its_french_title() {
        for code in ErrorCode::ALL {
            let fr = code.title_fr();
            assert!(!fr.trim().is_empty(), "{code} has no French title");
            assert_ne!(
                fr,
                code.title(),
                "{code}: the French title is the English one"
            );
            assert_eq!(code.title_text().get(Lang::Fr), fr);
            assert_eq!(code.title_text().get(Lang::En), code.title());
        }
        // The seed manuals' words.
        assert_eq!(
            ErrorCode::NotFromApogee.title_fr(),
            "Le fichier n'a pas été produit par Apogée"
        );
    }

    #[test]
    fn problems_speak_the_request_language_and_keep_their_code() {
        let err = ApiError::from(crate::pdf::PdfError::NotFromApogee("LibreOffice".into()));
        let fr = serde_json::to_value(err.problem_in(Lang::Fr)).unwrap();
        let en = serde_json::to_value(err.problem_in(Lang::En)).unwrap();
        assert_eq!(fr["code"], "not_from_apogee");
        assert_eq!(en["code"], "not_from_apogee");
        assert_eq!(fr["title"], "Le fichier n'a pas été produit par Apogée");
        assert_eq!(en["title"], "Not an Apogée edition");
        assert!(
            fr["detail"]
                .as_str()
                .unwrap()
                .contains("producteur : LibreOffice")
        );
        assert!(
            en["detail"]
                .as_str()
                .unwrap()
                .contains("producer: LibreOffice")
        );
        // Outside a request, French; inside, the scoped language.
        assert_eq!(
            err.problem().title,
            "Le fichier n'a pas été produit par Apogée"
        );
        assert_eq!(
            i18n::with(Lang::En, || err.problem().title),
            "Not an Apogée edition"
        );
        let missing = ApiError::not_found("vault");
        assert_eq!(missing.problem_in(Lang::Fr).detail, "Coffre introuvable");
        assert_eq!(missing.problem_in(Lang::En).detail, "vault not found");
        // A precise English phrase keeps its precision in French; an unlisted word is still
        // named.
        let retained = ApiError::not_found("document file (deleted by retention)");
        assert_eq!(
            retained.problem_in(Lang::Fr).detail,
            "Fichier du document introuvable (supprimé par la durée de conservation)"
        );
        assert_eq!(
            ApiError::not_found("group").problem_in(Lang::Fr).detail,
            "Groupe introuvable"
        );
        assert_eq!(
            ApiError::not_found("widget").problem_in(Lang::Fr).detail,
            "Introuvable : widget"
        );
    }

    #[test]
    fn field_messages_name_the_rule_in_both_languages() {
        let rule = |code: &'static str, params: &[(&'static str, i64)]| {
            let mut e = validator::ValidationError::new(code);
            for (k, v) in params {
                e.add_param((*k).into(), v);
            }
            validation_message(&e)
        };
        let both = rule("length", &[("min", 1), ("max", 200)]);
        assert_eq!(
            both.fr,
            "doit compter entre 1 et 200 caractère(s) ou élément(s)"
        );
        assert_eq!(
            both.en,
            "must have between 1 and 200 character(s) or item(s)"
        );
        assert_eq!(
            rule("length", &[("max", 10)]).en,
            "must have at most 10 character(s) or item(s)"
        );
        assert_eq!(
            rule("length", &[("min", 2)]).fr,
            "doit compter au moins 2 caractère(s) ou élément(s)"
        );
        assert_eq!(
            rule("length", &[("equal", 3)]).en,
            "must have exactly 3 character(s) or item(s)"
        );
        assert_eq!(
            rule("range", &[("min", 1), ("max", 5)]).fr,
            "doit être compris entre 1 et 5"
        );
        assert_eq!(rule("range", &[("min", 1)]).en, "must be at least 1");
        assert_eq!(rule("range", &[("max", 5)]).fr, "doit valoir au plus 5");
        assert_eq!(
            rule("format", &[]).fr,
            "seulement des lettres majuscules et des chiffres"
        );
        // A rule without its own sentence still names the rule and its parameters.
        let other = rule("custom_rule", &[("limit", 4)]);
        assert_eq!(other.fr, "ne respecte pas la règle `custom_rule` (limit=4)");
        assert_eq!(other.en, "failed the `custom_rule` rule (limit=4)");
    }

    #[test]
    fn field_messages_are_served_in_the_request_language() {
        #[derive(validator::Validate)]
        struct Body {
            #[validate(length(min = 1, max = 200))]
            label: String,
        }
        let err = ApiError::from(
            validator::Validate::validate(&Body {
                label: String::new(),
            })
            .unwrap_err(),
        );
        let message = |lang| {
            crate::i18n::with(lang, || {
                serde_json::to_value(err.problem_in(lang)).unwrap()["errors"][0]["message"].clone()
            })
        };
        assert_eq!(
            message(Lang::Fr),
            "doit compter entre 1 et 200 caractère(s) ou élément(s)"
        );
        assert_eq!(
            message(Lang::En),
            "must have between 1 and 200 character(s) or item(s)"
        );
    }

    #[test]
    fn problem_carries_code_status_and_fields() {
        let err = ApiError::validation(vec![FieldError {
            field: "label".into(),
            code: "length".into(),
            message: Localized(Text::fixed("trop long", "too long")),
        }])
        .with("current_status", "active");
        let body = serde_json::to_value(err.problem()).unwrap();
        assert_eq!(body["status"], 422);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["type"], "urn:passerelle:problem:validation_failed");
        assert_eq!(body["errors"][0]["field"], "label");
        assert_eq!(body["current_status"], "active");
        assert_eq!(
            err.error_response().status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
