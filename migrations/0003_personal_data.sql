-- Personal data, kept out of the immutable event log in erasable tables keyed by the ids the
-- events carry. Erasing a user's personal data deletes or rewrites rows here and never touches
-- the log. Rows are written before the command's events are appended, idempotently by id.

-- A user's email address and a mirror of its verified flag (the log's user.email_verified is
-- the authority; this copy lets an invitation be matched against the verified address).
CREATE TABLE user_emails (
    user_id     uuid        PRIMARY KEY,
    email       text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    verified    boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_emails_by_email ON user_emails (email);

-- The address an invitation was sent to.
CREATE TABLE invitation_emails (
    organization_id uuid        NOT NULL,
    invitation_id   uuid        NOT NULL,
    email           text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, invitation_id)
);
CREATE INDEX invitation_emails_by_email ON invitation_emails (email);

-- The personal part of an organization's billing settings, per billing profile version
-- (organization.billing_settings_set carries only the version).
CREATE TABLE billing_profiles (
    organization_id uuid        NOT NULL,
    profile_version integer     NOT NULL CHECK (profile_version > 0),
    contacts        text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(contacts) <= 10),
    company_name    text,
    tax_id          text,
    postal_address  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, profile_version)
);
