// The one portable schema for both backends. Keep it in step with migrations/sqlite and
// migrations/postgres (a test compares the migrated databases with these tables).

diesel::table! {
    composantes (code) {
        code -> Text,
        label -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        key_hash -> Text,
        scopes -> Text,
        composantes -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    students (id) {
        id -> Text,
        cod_etu -> Text,
        ine -> Nullable<Text>,
        last_name -> Text,
        first_name -> Text,
        search_name -> Text,
        birth_date -> Nullable<Date>,
        email -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    enrolments (student_id, academic_year, etape) {
        student_id -> Text,
        academic_year -> Integer,
        etape -> Text,
        composante -> Text,
        state -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        regime -> Nullable<Text>,
        boursier -> Nullable<Bool>,
    }
}

diesel::table! {
    student_terms (term, student_id) {
        term -> Text,
        student_id -> Text,
    }
}

diesel::joinable!(enrolments -> students (student_id));
diesel::joinable!(student_terms -> students (student_id));
diesel::joinable!(enrolments -> composantes (composante));

diesel::table! {
    vaults (id) {
        id -> Text,
        student_id -> Text,
        status -> Text,
        accepted -> Bool,
        personalised -> Bool,
        route_code -> Nullable<Text>,
        membership_id -> Nullable<Text>,
        customization_url -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        status_changed_at -> Timestamp,
    }
}

// One row per (composante, vault), kept by triggers: the registry's filter and sort columns.
diesel::table! {
    vault_registry (vault_id, composante) {
        composante -> Text,
        vault_id -> Text,
        student_id -> Text,
        status -> Text,
        search_name -> Text,
        cod_etu -> Text,
        words -> Text,
    }
}

diesel::table! {
    vault_registry_counts (composante, status) {
        composante -> Text,
        status -> Text,
        vaults -> BigInt,
        queued -> BigInt,
    }
}

diesel::joinable!(vault_registry -> vaults (vault_id));
diesel::joinable!(vault_registry -> students (student_id));

diesel::table! {
    vault_history (id) {
        id -> Text,
        vault_id -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        cause -> Text,
        actor -> Text,
        reason -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        subject_id -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        run_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        requested_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    consent_events (id) {
        id -> Text,
        student_id -> Text,
        purpose -> Text,
        event -> Text,
        source -> Text,
        actor -> Text,
        evidence_ref -> Nullable<Text>,
        comment -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        student_ref -> Nullable<Text>,
        object_type -> Text,
        object_id -> Nullable<Text>,
        details -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    treatments (id) {
        id -> Text,
        composante -> Text,
        document_type -> Text,
        academic_year -> Integer,
        session -> Nullable<Text>,
        label -> Text,
        file_name -> Text,
        file_sha256 -> Text,
        file_size -> BigInt,
        status -> Text,
        pages_total -> Nullable<Integer>,
        pages_done -> Integer,
        rejection_code -> Nullable<Text>,
        rejection_detail -> Nullable<Text>,
        skipped_pages -> Text,
        warnings -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        split_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        sent_by -> Nullable<Text>,
        cancelled_at -> Nullable<Timestamp>,
        authority -> Nullable<Text>,
        sent_blocks -> Nullable<Text>,
        created_by_name -> Nullable<Text>,
    }
}

diesel::table! {
    documents (id) {
        id -> Text,
        treatment_id -> Text,
        student_id -> Nullable<Text>,
        cod_etu -> Text,
        ine -> Nullable<Text>,
        pages -> Text,
        flags -> Text,
        sha256 -> Text,
        size -> BigInt,
        identity_confirmed_by -> Nullable<Text>,
        identity_confirmed_at -> Nullable<Timestamp>,
        delivery_status -> Nullable<Text>,
        delivery_reason -> Nullable<Text>,
        digiposte_document_id -> Nullable<Text>,
        deposit_started_at -> Nullable<Timestamp>,
        queued_at -> Nullable<Timestamp>,
        deposited_at -> Nullable<Timestamp>,
        receipt_at -> Nullable<Timestamp>,
        file_deleted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        earlier_document_id -> Nullable<Text>,
        replacement_confirmed_by -> Nullable<Text>,
        replacement_confirmed_at -> Nullable<Timestamp>,
        released_by -> Nullable<Text>,
        released_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    grade_transfers (id) {
        id -> Text,
        composante -> Text,
        academic_year -> Integer,
        etape -> Text,
        etape_version -> Text,
        mode -> Text,
        source_kind -> Text,
        scodoc_department -> Nullable<Text>,
        maquette_sha256 -> Text,
        maquette_file_name -> Text,
        source_sha256 -> Nullable<Text>,
        source_file_name -> Nullable<Text>,
        output_sha256 -> Text,
        output_size -> BigInt,
        output_file_name -> Text,
        students -> Integer,
        students_changed -> Integer,
        cells_changed -> Integer,
        problems -> Integer,
        report -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    grade_transfer_students (transfer_id, cod_etu) {
        transfer_id -> Text,
        cod_etu -> Text,
    }
}

diesel::table! {
    digiposte_receipts (receipt_id) {
        receipt_id -> Text,
        digiposte_document_id -> Text,
        document_id -> Nullable<Text>,
        status -> Text,
        outcome -> Text,
        raw -> Text,
        signed_at -> Timestamp,
        received_at -> Timestamp,
        applied_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(documents -> treatments (treatment_id));
diesel::joinable!(documents -> students (student_id));
diesel::joinable!(consent_events -> students (student_id));
diesel::joinable!(vaults -> students (student_id));
diesel::joinable!(vault_history -> vaults (vault_id));

diesel::table! {
    locker_users (id) {
        id -> Text,
        role -> Text,
        display_name -> Nullable<Text>,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    locker_groups (name) {
        name -> Text,
        label -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    locker_group_members (group_name, member_id) {
        group_name -> Text,
        member_id -> Text,
    }
}

diesel::table! {
    locker_deposits (id) {
        id -> Text,
        sender_id -> Text,
        title -> Text,
        file_name -> Text,
        media_type -> Text,
        sha256 -> Text,
        size -> BigInt,
        replaces -> Nullable<Text>,
        recipients -> Text,
        recipient_count -> Integer,
        received_at -> Timestamp,
        audit_seq -> BigInt,
        audit_hash -> Text,
        sender_name -> Nullable<Text>,
    }
}

diesel::table! {
    locker_items (deposit_id, recipient_id) {
        deposit_id -> Text,
        recipient_id -> Text,
        read_at -> Nullable<Timestamp>,
        trashed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    supporting_document_kinds (academic_year, etape, kind) {
        academic_year -> Integer,
        etape -> Text,
        kind -> Text,
        label -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        regimes -> Nullable<Text>,
        boursier -> Nullable<Bool>,
    }
}

diesel::table! {
    supporting_documents (id) {
        id -> Text,
        student_id -> Text,
        academic_year -> Integer,
        etape -> Text,
        composante -> Text,
        kind -> Text,
        file_name -> Text,
        media_type -> Text,
        sha256 -> Text,
        size -> BigInt,
        status -> Text,
        reason -> Nullable<Text>,
        submitted_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        channel -> Text,
        received_by -> Nullable<Text>,
        received_by_name -> Nullable<Text>,
        received_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(locker_items -> locker_deposits (deposit_id));
diesel::joinable!(locker_group_members -> locker_groups (group_name));
diesel::joinable!(supporting_documents -> students (student_id));
diesel::joinable!(grade_transfer_students -> grade_transfers (transfer_id));

diesel::allow_tables_to_appear_in_same_query!(
    composantes,
    api_keys,
    students,
    enrolments,
    vaults,
    vault_history,
    vault_registry,
    vault_registry_counts,
    jobs,
    consent_events,
    audit_log,
    audit_head,
    treatments,
    documents,
    student_terms,
    grade_transfers,
    grade_transfer_students,
    digiposte_receipts,
    locker_users,
    locker_groups,
    locker_group_members,
    locker_deposits,
    locker_items,
    supporting_document_kinds,
    supporting_documents,
);
