//! Apogée formats: enrolment extractions, INE checks, grade maquettes (.TXT) and the
//! grade transfer into them (sources, filling, checks, diff). Pure: no I/O.

pub mod check;
pub mod command;
pub(crate) mod csv;
pub mod diff;
pub mod enrolment_file;
pub mod enrolments;
pub mod erasure;
pub mod fill;
pub mod grades;
pub mod ine;
pub mod maquette;
pub mod text;

pub use command::{
    FillCommandError, FillMode, FillReport, TransferSource, fill_command, fill_from_source,
    transfer, transfer_parsed,
};

/// A realistic maquette and grade source, shared by the unit tests and by
/// `examples/postman_fixtures.rs` (the newman run's files).
#[cfg(any(test, feature = "testkit"))]
#[doc(hidden)]
pub mod fixtures;
