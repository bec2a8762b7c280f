//! ScoDoc 9: the API client (reqwest) and the mapping of its answers to a [`GradeSource`].
//!
//! Routes used (per department, `/ScoDoc/<DEPT>/api/…`; the token route is global):
//!
//! | call | route |
//! |---|---|
//! | token | `POST /ScoDoc/api/tokens` with HTTP Basic → `{"token": "…"}`, then `Authorization: Bearer` |
//! | semesters of an étape | `GET formsemestres/query?annee_scolaire=YYYY&etape_apo=CODE` |
//! | students (with `code_nip`) | `GET formsemestre/<id>/etudiants/long` |
//! | element codes | `GET formsemestre/<id>/programme` (UEs and module implementations with `code_apogee`) |
//! | averages | `GET formsemestre/<id>/resultats` (one row per student: `moy_gen`, `moy_ue_<ue_id>`, module averages) |
//! | jury | `GET formsemestre/<id>/decisions_jury` (BUT with `is_apc`, `annee`, `rcues`; classic with `semestre`, `ues`) |
//!
//! The facts behind each call, and their sources, are in `docs/scodoc.md`.
//!
//! [`GradeSource`]: crate::apogee::grades::GradeSource

pub mod client;
pub mod error;
pub mod mapping;
pub mod model;

pub use client::{
    ScoDocApi, ScoDocClient, ScoDocClients, ScoDocConfig, pull_grade_source, pull_grade_source_from,
};
pub use error::ScoDocError;
