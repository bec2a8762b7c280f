//! Integration tests through HTTP. One binary (fast to link on two cores); each test runs a real
//! server on a loopback port over a fresh SQLite file, and again over PostgreSQL when
//! `PASSERELLE_TEST_DATABASE_URL` is set.

mod support;

mod authz;
mod cli;
mod consents;
mod contract;
mod delivery;
mod digiposte;
mod document_kinds;
mod drills;
mod exports;
mod foundation;
mod grade_transfers;
mod i18n;
mod lockers;
mod oidc;
mod precreation;
mod queue;
mod reconcile;
mod scale_out;
mod scodoc;
mod security;
mod supporting_documents;
mod treatments;
mod vaults;
