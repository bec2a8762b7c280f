//! CSV exports of the manager-facing lists: the whole filtered result (every page, read from
//! the database one page at a time while the answer streams), written by the one CSV writer
//! (`crate::domain::csv`) for French spreadsheets.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db::{Db, DbConnection};
use crate::domain::csv;
use crate::error::ApiError;
use crate::pagination::{MAX_PER_PAGE, Window};

/// The media type of the exports.
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";

/// `format` of a list: JSON pages (the default) or the whole filtered list as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    Json,
    Csv,
}

/// Whether the caller asked for CSV: `?format=csv`, or (without `format`) an `Accept` that
/// names `text/csv`.
pub fn wants_csv(req: &HttpRequest, format: Option<ListFormat>) -> bool {
    match format {
        Some(f) => f == ListFormat::Csv,
        None => req
            .headers()
            .get_all(header::ACCEPT)
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/csv")),
    }
}

/// A CSV answer of every row `page` yields, page after page of the largest size, until a page
/// comes back short. `cells` turns a row into the cells under `columns`.
pub fn stream<T, P, C>(
    db: &Db,
    filename: &str,
    columns: &'static [&'static str],
    page: P,
    cells: C,
) -> HttpResponse
where
    T: Send + 'static,
    P: Fn(&mut DbConnection, Window) -> Result<Vec<T>, ApiError> + Send + Sync + Clone + 'static,
    C: Fn(T) -> Vec<String> + Clone + 'static,
{
    let db = db.clone();
    let first = Bytes::from(csv::header(columns));
    let pages = futures_util::stream::unfold(Some(1u32), move |next| {
        let db = db.clone();
        let page = page.clone();
        let cells = cells.clone();
        async move {
            let number = next?;
            let window = Window {
                page: number,
                per_page: MAX_PER_PAGE,
            };
            match db.run(move |conn| page(conn, window)).await {
                Ok(rows) => {
                    let more = rows.len() == MAX_PER_PAGE as usize;
                    let mut chunk = String::new();
                    for row in rows {
                        chunk.push_str(&csv::record(&cells(row)));
                    }
                    let next = more.then_some(number + 1);
                    Some((Ok::<Bytes, std::io::Error>(Bytes::from(chunk)), next))
                }
                // The headers are sent: a failure can only cut the answer short.
                Err(error) => {
                    tracing::warn!(code = %error.code, "CSV export cut short");
                    Some((Err(std::io::Error::other(error.detail.to_string())), None))
                }
            }
        }
    });
    let body =
        futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(first) }).chain(pages);
    HttpResponse::Ok()
        .content_type(TEXT_CSV)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(body)
}

/// A CSV answer of rows already in hand (lists computed whole before their pagination).
pub fn whole<T>(
    filename: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = T>,
    cells: impl Fn(T) -> Vec<String>,
) -> HttpResponse {
    let mut body = csv::header(columns);
    for row in rows {
        body.push_str(&csv::record(&cells(row)));
    }
    HttpResponse::Ok()
        .content_type(TEXT_CSV)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body)
}
