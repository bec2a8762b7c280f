//! The treatments' CSV exports, in French for the spreadsheet's readers.

use super::dto::{Treatment, TreatmentDocument};

impl Treatment {
    /// The columns of the CSV export, in French for the spreadsheet's readers.
    pub const CSV_COLUMNS: &'static [&'static str] = &[
        "Libellé",
        "Type de document",
        "Composante",
        "Année universitaire",
        "Session",
        "Statut",
        "Fichier",
        "Pages",
        "Documents",
        "Envoyés",
        "Transmis",
        "Erreurs",
        "Retenus",
        "Retours en retard",
        "Déposé par",
        "Déposé le",
        "Envoyé le",
    ];

    pub fn csv_cells(self) -> Vec<String> {
        use crate::domain::csv::{date, opt};
        let counts = self.counts.unwrap_or_default();
        vec![
            self.label,
            self.document_type_label.0.fr.to_string(),
            self.composante,
            self.academic_year.to_string(),
            opt(self.session),
            self.status_label.to_owned(),
            self.file_name,
            opt(self.pages_total),
            counts.documents.to_string(),
            counts.sent.to_string(),
            counts.transmitted.to_string(),
            counts.errors.to_string(),
            counts.held.to_string(),
            self.overdue_receipts.to_string(),
            self.created_by,
            date(self.created_at),
            opt(self.sent_at.map(date)),
        ]
    }
}

impl TreatmentDocument {
    /// The columns of the CSV export, in French for the spreadsheet's readers.
    pub const CSV_COLUMNS: &'static [&'static str] = &[
        "Numéro étudiant",
        "Nom",
        "Prénom",
        "INE",
        "Pages",
        "Signalements",
        "Identité à vérifier",
        "Statut du coffre",
        "Statut de l'envoi",
        "Motif",
        "Déposé le",
        "Retour le",
    ];

    pub fn csv_cells(self) -> Vec<String> {
        use crate::domain::csv::{date, opt, yes_no};
        let pages: Vec<String> = self.pages.iter().map(u32::to_string).collect();
        vec![
            self.cod_etu,
            opt(self.last_name),
            opt(self.first_name),
            opt(self.ine),
            pages.join(" "),
            self.flags.join(" "),
            yes_no(self.needs_identity_check),
            opt(self.vault_status.map(|v| v.label())),
            opt(self.delivery_status_label),
            opt(self.delivery_reason),
            opt(self.deposited_at.map(date)),
            opt(self.receipt_at.map(date)),
        ]
    }
}
