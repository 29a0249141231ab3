//! Diesel's view of the tables in `migrations/`. Written by hand to match the SQL;
//! the `schema_matches_migrations` test checks every column against the database.

diesel::table! {
    workspaces (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        email -> Text,
        role -> Text,
        created_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_tokens (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        created_at -> Timestamptz,
        id -> Uuid,
        name -> Nullable<Text>,
        hint -> Nullable<Text>,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    projects (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        slug -> Text,
        name -> Text,
        description -> Text,
        github_repo -> Nullable<Text>,
        last_task_number -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    specs (project_id) {
        project_id -> Uuid,
        status -> Text,
        content -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        project_id -> Uuid,
        number -> Int8,
        title -> Text,
        description -> Text,
        status -> Text,
        priority -> Text,
        labels -> Array<Text>,
        source -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        reopen_status -> Nullable<Text>,
    }
}

diesel::table! {
    github_credentials (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        account_login -> Text,
        token_hint -> Text,
        key_id -> Text,
        nonce -> Bytea,
        ciphertext -> Bytea,
        connected_at -> Timestamptz,
    }
}

diesel::table! {
    external_links (id) {
        id -> Uuid,
        task_id -> Uuid,
        project_id -> Uuid,
        provider -> Text,
        dedup_key -> Text,
        reference -> Text,
        url -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        github_issue_id -> Nullable<Int8>,
        issue_number -> Nullable<Int8>,
        snapshot -> Nullable<Jsonb>,
        etag -> Nullable<Text>,
        link_state -> Text,
        synced_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sync_runs (id) {
        id -> Uuid,
        project_id -> Uuid,
        kind -> Text,
        repo -> Text,
        status -> Text,
        created -> Int4,
        skipped -> Int4,
        pull_requests_ignored -> Int4,
        total_seen -> Int4,
        error_code -> Nullable<Text>,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        job_id -> Nullable<Uuid>,
        progress -> Jsonb,
        resumes_at -> Nullable<Timestamptz>,
        // `updated`, `unchanged` and `conflicts` (two-way sync) would take the
        // table past diesel's 16 columns: they are read and written in SQL.
    }
}

diesel::table! {
    push_intents (task_id) {
        task_id -> Uuid,
        project_id -> Uuid,
        run_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    project_leases (project_id, purpose) {
        project_id -> Uuid,
        purpose -> Text,
        holder -> Uuid,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(users -> workspaces (workspace_id));
diesel::joinable!(project_leases -> projects (project_id));
diesel::joinable!(push_intents -> tasks (task_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(projects -> workspaces (workspace_id));
diesel::joinable!(specs -> projects (project_id));
diesel::joinable!(tasks -> projects (project_id));
diesel::joinable!(external_links -> tasks (task_id));
diesel::joinable!(sync_runs -> projects (project_id));
diesel::joinable!(github_credentials -> workspaces (workspace_id));

diesel::allow_tables_to_appear_in_same_query!(
    workspaces,
    users,
    api_tokens,
    projects,
    specs,
    tasks,
    github_credentials,
    external_links,
    sync_runs,
    push_intents,
    project_leases,
);
