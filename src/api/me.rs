//! `/me…`: the caller as passerelle understands it, and a student's own views.

use actix_web::{get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{DataScope, Principal};
use crate::db::students;
use crate::error::ApiError;
use crate::services::student_vault::MyVault;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(me).service(my_vault).service(my_personal_data);
}

/// The authenticated principal: role, composantes, student number or scopes.
#[utoipa::path(operation_id = "getMe", tag = "identity", responses((status = 200, body = Principal)))]
#[get("/me")]
async fn me(principal: Principal) -> web::Json<Principal> {
    web::Json(principal)
}

/// The caller's own vault (students only).
#[utoipa::path(
    operation_id = "getMyVault",
    tag = "identity",
    responses(
        (status = 200, body = MyVault),
        (status = 403, description = "Only students have a vault"),
        (status = 404, description = "The student is not known to passerelle"),
    )
)]
#[get("/me/vault")]
async fn my_vault(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<MyVault>, ApiError> {
    let cod_etu = principal.own_cod_etu()?.to_owned();
    let kinds = state.config.document_kinds();
    let view = state
        .db
        .run(move |conn| {
            let student = students::get(conn, &DataScope::Student(cod_etu.clone()), &cod_etu)?
                .ok_or_else(|| ApiError::not_found("student"))?;
            crate::services::student_vault::my_vault(conn, &student, &kinds)
        })
        .await?;
    Ok(web::Json(view))
}

/// Everything passerelle holds on the caller (students): the right of access.
#[utoipa::path(
    operation_id = "getMyPersonalData",
    tag = "identity",
    responses(
        (status = 200, body = crate::services::personal_data::PersonalData),
        (status = 403, description = "Students only"),
        (status = 404, description = "The student is not known to passerelle"),
    )
)]
#[get("/me/personal-data")]
async fn my_personal_data(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<crate::services::personal_data::PersonalData>, ApiError> {
    let cod_etu = principal.own_cod_etu()?.to_owned();
    let data =
        super::students::export_for(&state, DataScope::Student(cod_etu.clone()), cod_etu).await?;
    Ok(web::Json(data))
}
