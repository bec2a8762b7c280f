//! The rows a caller may see: what authorization answers and every repository query takes.

/// The rows a caller may read or change. Repositories filter every query with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataScope {
    /// Every composante.
    All,
    /// Only these composantes (never empty for a manager; an empty list sees nothing).
    Composantes(Vec<String>),
    /// Only this student's own data.
    Student(String),
}

impl DataScope {
    /// Whether an object belonging to `composante` is visible.
    pub fn covers_composante(&self, composante: &str) -> bool {
        match self {
            DataScope::All => true,
            DataScope::Composantes(list) => list.iter().any(|c| c == composante),
            DataScope::Student(_) => false,
        }
    }
}
