//! Which stored documents the database still refers to (the orphan sweep keeps those).

use std::collections::HashSet;

use diesel::prelude::*;

use super::DbConnection;
use super::schema::{
    documents, grade_transfers, locker_deposits, supporting_documents, treatments,
};

/// The keys among `keys` that some row refers to (a document's row whose file retention
/// deleted still counts: keeping a file a little longer is safe, losing one is not).
pub fn referenced(conn: &mut DbConnection, keys: &[String]) -> QueryResult<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in keys.chunks(500) {
        found.extend(
            treatments::table
                .filter(treatments::file_sha256.eq_any(chunk))
                .select(treatments::file_sha256)
                .load::<String>(conn)?,
        );
        found.extend(
            documents::table
                .filter(documents::sha256.eq_any(chunk))
                .select(documents::sha256)
                .load::<String>(conn)?,
        );
        found.extend(
            locker_deposits::table
                .filter(locker_deposits::sha256.eq_any(chunk))
                .select(locker_deposits::sha256)
                .load::<String>(conn)?,
        );
        found.extend(
            supporting_documents::table
                .filter(supporting_documents::sha256.eq_any(chunk))
                .select(supporting_documents::sha256)
                .load::<String>(conn)?,
        );
        let transfers: Vec<(String, Option<String>, String)> = grade_transfers::table
            .filter(
                grade_transfers::maquette_sha256
                    .eq_any(chunk)
                    .or(grade_transfers::source_sha256.eq_any(chunk))
                    .or(grade_transfers::output_sha256.eq_any(chunk)),
            )
            .select((
                grade_transfers::maquette_sha256,
                grade_transfers::source_sha256,
                grade_transfers::output_sha256,
            ))
            .load(conn)?;
        for (m, s, o) in transfers {
            found.extend([m, o]);
            found.extend(s);
        }
    }
    Ok(found)
}
