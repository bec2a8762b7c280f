//! passerelle: a REST/OpenAPI gateway between Apogée, ScoDoc, the ENT and Digiposte.
//!
//! Layout: `api` (HTTP handlers), `auth` (principals and scope), `db` (schema and
//! repositories), `config`, `error` (the one problem table), `telemetry`; pure cores have no I/O.

pub mod api;
pub mod apogee;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod digiposte;
pub mod domain;
pub mod error;
pub mod guard;
pub mod http_client;
pub mod i18n;
pub mod jobs;
pub mod metrics;
pub mod pagination;
pub mod pdf;
pub mod ratelimit;
pub mod scodoc;
pub mod secrets;
pub mod server;
pub mod services;
pub mod state;
pub mod storage;
pub mod telemetry;
