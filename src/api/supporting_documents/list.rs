//! The managers' list of required documents (`GET /supporting-documents`), as JSON pages or
//! a whole CSV.

use actix_web::{Either, HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Permission, Principal};
use crate::domain::supporting::SupportingStatus;
use crate::error::{ApiError, ErrorCode};
use crate::pagination::{Page, Window};
use crate::services::export::{self, ListFormat};
use crate::services::supporting_documents::{self as service, EnrolmentDocuments};
use crate::state::AppState;

/// One required document of one student, as the managers' list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportingRow {
    pub cod_etu: String,
    pub last_name: String,
    pub first_name: String,
    pub etape: String,
    pub composante: String,
    pub kind: String,
    pub label: String,
    pub status: SupportingStatus,
    pub status_label: &'static str,
    pub reason: Option<String>,
    /// The current deposit (accept, reject or download it by this id).
    pub submission_id: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// Deposits of this kind so far.
    pub deposits: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SupportingQuery {
    /// COD_ETP.
    pub etape: Option<String>,
    /// missing, pending, accepted or rejected (comma-separated for several).
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Default: the current academic year.
    pub year: Option<i32>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
    /// `csv`: the whole filtered list as CSV (as `Accept: text/csv` asks).
    #[param(inline)]
    pub format: Option<ListFormat>,
}

fn parse_statuses(s: Option<&str>) -> Result<Vec<SupportingStatus>, ApiError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            SupportingStatus::parse(p).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    crate::text!(
                        "`{p}` n'est pas un statut (missing, pending, accepted, rejected)",
                        "`{p}` is not a status (missing, pending, accepted, rejected)"
                    ),
                )
            })
        })
        .collect()
}

/// The required documents of the students of the caller's composantes, by étape and status
/// (e.g. `?etape=L1INF&status=pending` is the control queue; `status=missing` whom to remind).
#[utoipa::path(
    operation_id = "listSupportingDocuments",
    tag = "supporting_documents",
    params(SupportingQuery),
    responses((status = 200, description = "One page of required documents, or the whole list as CSV", content(
        (Page<SupportingRow> = "application/json"),
        (String = "text/csv", example = json!("\u{feff}Numéro étudiant;Nom;Prénom;Étape;Composante;Pièce;Statut;Motif;Déposée le;Dépôts\r\n21900001;LEFÈVRE;Zoé;L1INF;905;Attestation CVEC;À contrôler;;2025-09-01T08:00:00Z;1\r\n"))
    )))
)]
#[get("/supporting-documents")]
pub(super) async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<SupportingQuery>,
) -> Result<Either<web::Json<Page<SupportingRow>>, HttpResponse>, ApiError> {
    let scope = principal.authorize(Permission::SupportingDocumentsRead)?;
    let query = query.into_inner();
    let csv = export::wants_csv(&req, query.format);
    let window = Window::new(query.page, query.per_page)?;
    let statuses = parse_statuses(query.status.as_deref())?;
    let year = query
        .year
        .unwrap_or_else(|| state.config.current_academic_year());
    let etape = query.etape.clone();
    let views = state
        .db
        .run(move |conn| service::documents(conn, &scope, year, etape.as_deref(), None))
        .await?;
    let rows = SupportingRow::of(views, &statuses, query.kind.as_deref());
    if csv {
        return Ok(Either::Right(export::whole(
            "pieces-justificatives.csv",
            SupportingRow::CSV_COLUMNS,
            rows,
            SupportingRow::csv_cells,
        )));
    }
    let total = rows.len() as i64;
    let items = rows
        .into_iter()
        .skip(window.offset() as usize)
        .take(window.limit() as usize)
        .collect();
    Ok(Either::Left(web::Json(window.wrap(items, total))))
}

impl SupportingRow {
    /// One row per required document of the students' enrolments, of these statuses (all when
    /// none) and this kind.
    fn of(
        views: Vec<EnrolmentDocuments>,
        statuses: &[SupportingStatus],
        kind: Option<&str>,
    ) -> Vec<SupportingRow> {
        views
            .into_iter()
            .flat_map(|v| {
                let EnrolmentDocuments {
                    cod_etu,
                    last_name,
                    first_name,
                    etape,
                    composante,
                    documents,
                    ..
                } = v;
                documents.into_iter().map(move |d| SupportingRow {
                    cod_etu: cod_etu.clone(),
                    last_name: last_name.clone(),
                    first_name: first_name.clone(),
                    etape: etape.clone(),
                    composante: composante.clone(),
                    submission_id: d.current.as_ref().map(|c| c.id.clone()),
                    submitted_at: d.current.as_ref().map(|c| c.submitted_at),
                    deposits: d.history.len(),
                    kind: d.kind,
                    label: d.label,
                    status: d.status,
                    status_label: d.status_label,
                    reason: d.reason,
                })
            })
            .filter(|r| statuses.is_empty() || statuses.contains(&r.status))
            .filter(|r| kind.is_none_or(|k| k == r.kind))
            .collect()
    }

    /// The columns of the CSV export, in French for the spreadsheet's readers.
    pub const CSV_COLUMNS: &'static [&'static str] = &[
        "Numéro étudiant",
        "Nom",
        "Prénom",
        "Étape",
        "Composante",
        "Pièce",
        "Statut",
        "Motif",
        "Déposée le",
        "Dépôts",
    ];

    fn csv_cells(self) -> Vec<String> {
        use crate::domain::csv::{date, opt};
        vec![
            self.cod_etu,
            self.last_name,
            self.first_name,
            self.etape,
            self.composante,
            self.label,
            self.status_label.to_owned(),
            opt(self.reason),
            opt(self.submitted_at.map(date)),
            self.deposits.to_string(),
        ]
    }
}
