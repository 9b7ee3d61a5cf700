-- Read models: projections of the event log, each checkpointed in the same transaction as its
-- changes. Every table here can be rebuilt from the log (see docs/projections.md): the rebuild
-- builds copies in a side schema and swaps them in, so no foreign keys tie tables together.

-- Where each projection is in the log. Written in the same transaction as the read-model
-- changes, so an event is applied exactly once whatever crashes.
CREATE TABLE projection_checkpoints (
    name        text        PRIMARY KEY,
    position    bigint      NOT NULL CHECK (position >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projection_checkpoints (name, position)
VALUES ('balances', 0), ('keys', 0), ('directory', 0), ('activity', 0);

-- ---- projection "balances" ----

-- One row per account. balance = purchased + transferred_in - transferred_out - used;
-- available = balance - held.
CREATE TABLE account_balances (
    account_id          uuid        PRIMARY KEY,
    owner_kind          text        NOT NULL CHECK (owner_kind IN ('user', 'organization')),
    owner_id            uuid        NOT NULL,
    balance             numeric     NOT NULL,
    held                numeric     NOT NULL CHECK (held >= 0),
    open_holds          bigint      NOT NULL CHECK (open_holds >= 0),
    purchased           numeric     NOT NULL CHECK (purchased >= 0),
    transferred_in      numeric     NOT NULL CHECK (transferred_in >= 0),
    transferred_out     numeric     NOT NULL CHECK (transferred_out >= 0),
    used                numeric     NOT NULL CHECK (used >= 0),
    opened_at           timestamptz NOT NULL,
    last_position       bigint      NOT NULL,
    CHECK (balance = purchased + transferred_in - transferred_out - used)
);
CREATE INDEX account_balances_owner ON account_balances (owner_id);

-- Open holds, so settling, voiding and expiring know the amount released; the expiry task
-- finds holds past their TTL by (expires_at).
CREATE TABLE open_holds (
    hold_id     uuid        PRIMARY KEY,
    account_id  uuid        NOT NULL,
    key_id      uuid        NOT NULL,
    amount      numeric     NOT NULL CHECK (amount >= 0),
    expires_at  timestamptz NOT NULL,
    placed_at   timestamptz NOT NULL,
    position    bigint      NOT NULL
);
CREATE INDEX open_holds_expires_at ON open_holds (expires_at);
CREATE INDEX open_holds_account ON open_holds (account_id);

-- Double-entry view of every money movement: one movement per event (its position), whose
-- entries sum to zero. Besides customer accounts (their uuid as text) there are `external`
-- (money from purchases), `revenue` (usage) and `transfers` (credits between the two halves
-- of a transfer). The balance of an account equals the sum of its entries.
CREATE TABLE ledger_entries (
    position    bigint      NOT NULL,
    account     text        NOT NULL,
    amount      numeric     NOT NULL CHECK (amount <> 0),
    kind        text        NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (position, account)
);
CREATE INDEX ledger_entries_account ON ledger_entries (account, position);

-- ---- projection "keys" ----

-- API keys. Spend is kept per period kind (UTC day, ISO week, month) with the period's first
-- day, so the spend in the current period is exact whatever the key's reset period.
CREATE TABLE api_keys (
    key_id              uuid        PRIMARY KEY,
    account_id          uuid        NOT NULL,
    created_by          uuid        NOT NULL,
    name                text        NOT NULL,
    prefix              text        NOT NULL,
    secret_hash         text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
    limit_amount        numeric,
    limit_period        text        CHECK (limit_period IN ('daily', 'weekly', 'monthly', 'lifetime')),
    spend_day_start     date,
    spend_day           numeric     NOT NULL,
    spend_week_start    date,
    spend_week          numeric     NOT NULL,
    spend_month_start   date,
    spend_month         numeric     NOT NULL,
    total_spend         numeric     NOT NULL,
    request_count       bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    last_used_at        timestamptz,
    expires_at          timestamptz,
    created_position    bigint      NOT NULL,
    last_position       bigint      NOT NULL
);
-- The gateway authenticates a secret by its hash.
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
-- Key listings: all keys of an account, or a member's own keys, in creation order (keyset on
-- the position of `key_created`).
CREATE INDEX api_keys_account ON api_keys (account_id, created_position);
CREATE INDEX api_keys_account_creator ON api_keys (account_id, created_by, created_position);

-- ---- projection "directory" ----

CREATE TABLE users (
    user_id             uuid        PRIMARY KEY,
    personal_account_id uuid        NOT NULL,
    email_verified      boolean     NOT NULL,
    registered_at       timestamptz NOT NULL,
    last_position       bigint      NOT NULL
);

CREATE TABLE organizations (
    organization_id             uuid        PRIMARY KEY,
    account_id                  uuid        NOT NULL UNIQUE,
    name                        text        NOT NULL,
    details                     text,
    created_by                  uuid        NOT NULL,
    member_limit                integer     NOT NULL,
    member_count                integer     NOT NULL,
    retention_days              integer     NOT NULL,
    prompt_logging              boolean     NOT NULL,
    billing_profile_version     integer     NOT NULL,
    payment_method_reference    text,
    created_at                  timestamptz NOT NULL,
    last_position               bigint      NOT NULL
);

CREATE TABLE organization_members (
    organization_id uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('admin', 'member')),
    joined_at       timestamptz NOT NULL,
    joined_position bigint      NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
-- Member listings in joining order (keyset on the position of the join).
CREATE INDEX organization_members_org_joined ON organization_members (organization_id, joined_position);
-- The account switcher: every organization of a user.
CREATE INDEX organization_members_user ON organization_members (user_id, organization_id);

CREATE TABLE organization_invitations (
    organization_id uuid        NOT NULL,
    invitation_id   uuid        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('admin', 'member')),
    invited_by      uuid        NOT NULL,
    expires_at      timestamptz NOT NULL,
    invited_at      timestamptz NOT NULL,
    position        bigint      NOT NULL,
    PRIMARY KEY (organization_id, invitation_id)
);
CREATE INDEX organization_invitations_org_position ON organization_invitations (organization_id, position);

-- ---- projection "activity" ----

-- One row per usage record (settled hold or recorded usage): metadata only, never content.
-- Newest first per account by (finished_at, position); pruned per the account's retention.
CREATE TABLE activity (
    account_id          uuid        NOT NULL,
    position            bigint      NOT NULL,
    key_id              uuid        NOT NULL,
    user_id             uuid        NOT NULL,
    hold_id             uuid,
    generation_id       text        NOT NULL,
    model               text        NOT NULL,
    provider            text        NOT NULL,
    prompt_tokens       bigint      NOT NULL,
    completion_tokens   bigint      NOT NULL,
    reasoning_tokens    bigint      NOT NULL,
    cached_tokens       bigint      NOT NULL,
    cost                numeric     NOT NULL CHECK (cost >= 0),
    latency_ms          bigint      NOT NULL,
    ttft_ms             bigint,
    status              text        NOT NULL CHECK (status IN ('success', 'error', 'cancelled')),
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL,
    PRIMARY KEY (account_id, position)
);
-- Keyset pagination newest first, unfiltered or by time range; also serves the prune.
CREATE INDEX activity_account_time ON activity (account_id, finished_at DESC, position DESC);
-- The same, filtered by key, by member, by model.
CREATE INDEX activity_account_key_time ON activity (account_id, key_id, finished_at DESC, position DESC);
CREATE INDEX activity_account_user_time ON activity (account_id, user_id, finished_at DESC, position DESC);
CREATE INDEX activity_account_model_time ON activity (account_id, model, finished_at DESC, position DESC);

-- Usage per account x UTC day x member x key x model (kept), by finished_at.
CREATE TABLE usage_daily (
    account_id          uuid        NOT NULL,
    day                 date        NOT NULL,
    user_id             uuid        NOT NULL,
    key_id              uuid        NOT NULL,
    model               text        NOT NULL,
    requests            bigint      NOT NULL,
    prompt_tokens       bigint      NOT NULL,
    completion_tokens   bigint      NOT NULL,
    reasoning_tokens    bigint      NOT NULL,
    cached_tokens       bigint      NOT NULL,
    cost                numeric     NOT NULL,
    PRIMARY KEY (account_id, day, user_id, key_id, model)
);

-- The same per UTC hour, for recent days only (pruned after 14 days).
CREATE TABLE usage_hourly (
    account_id          uuid        NOT NULL,
    hour                timestamptz NOT NULL,
    user_id             uuid        NOT NULL,
    key_id              uuid        NOT NULL,
    model               text        NOT NULL,
    requests            bigint      NOT NULL,
    prompt_tokens       bigint      NOT NULL,
    completion_tokens   bigint      NOT NULL,
    reasoning_tokens    bigint      NOT NULL,
    cached_tokens       bigint      NOT NULL,
    cost                numeric     NOT NULL,
    PRIMARY KEY (account_id, hour, user_id, key_id, model)
);
CREATE INDEX usage_hourly_hour ON usage_hourly (hour);
