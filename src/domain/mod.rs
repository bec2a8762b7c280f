//! Pure rules: state machines, labels, text folding. No I/O here.

pub mod academic_year;
pub mod audit;
pub mod consent;
pub mod csv;
pub mod delivery;
pub mod document_kind;
pub mod enrolment;
pub mod filetype;
pub mod locker;
pub mod scope;
pub mod supporting;
pub mod text;
pub mod vault;
