-- tb-intake: requests (offers and needs) and their history.
--
-- A request is stored twice over: the columns that filters, search, expiry and
-- idempotency need, and `body`, the packed techbridge.Request with every field
-- as submitted or edited. Server-kept fields (id, status, version, times,
-- renewed, expires_at) are authoritative in the columns; the service rebuilds a
-- Request from `body` and overwrites those fields from the columns.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE intake_requests (
    id                uuid        PRIMARY KEY,
    kind              text        NOT NULL CHECK (kind IN ('OFFER', 'NEED')),
    org_id            text        NOT NULL CHECK (length(org_id) BETWEEN 1 AND 64),
    external_ref      text        NOT NULL CHECK (length(external_ref) BETWEEN 1 AND 100),
    status            text        NOT NULL CHECK (status IN ('SUBMITTED', 'PUBLISHED',
                                      'IN_NEGOTIATION', 'AGREED', 'REJECTED', 'WITHDRAWN',
                                      'EXPIRED')),
    sector            text        NOT NULL,
    title             text        NOT NULL,
    summary           text        NOT NULL DEFAULT '',
    keywords          text        NOT NULL DEFAULT '',  -- space-separated, normalised
    version           bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    renewed           boolean     NOT NULL DEFAULT false,
    expiring_notified boolean     NOT NULL DEFAULT false,
    -- Packed Request of the submitted content only (normalised, server fields
    -- cleared): equal content gives equal bytes. Kept from the first submission,
    -- so that a retried submission stays idempotent after an edit.
    fingerprint       bytea       NOT NULL,
    body              bytea       NOT NULL,
    search            tsvector    GENERATED ALWAYS AS (
                          setweight(to_tsvector('english', title), 'A') ||
                          setweight(to_tsvector('english', keywords), 'B') ||
                          setweight(to_tsvector('english', summary), 'C')) STORED
);

-- Idempotency key of submissions.
CREATE UNIQUE INDEX intake_requests_org_ref ON intake_requests (org_id, external_ref);
-- Listing: keyset pagination on (created_at desc, id desc), optionally by status.
CREATE INDEX intake_requests_status_created ON intake_requests (status, created_at DESC, id DESC);
CREATE INDEX intake_requests_created ON intake_requests (created_at DESC, id DESC);
CREATE INDEX intake_requests_org ON intake_requests (org_id);
CREATE INDEX intake_requests_sector ON intake_requests (sector);
CREATE INDEX intake_requests_search ON intake_requests USING gin (search);
-- Possible duplicates: similar titles.
CREATE INDEX intake_requests_title_trgm ON intake_requests USING gin (title gin_trgm_ops);
-- The expiry sweep.
CREATE INDEX intake_requests_expiry ON intake_requests (expires_at) WHERE status = 'PUBLISHED';

-- Every change of a request: submission, edits, transitions, expiry.
CREATE TABLE intake_history (
    id             bigserial   PRIMARY KEY,
    request_id     uuid        NOT NULL REFERENCES intake_requests (id),
    at             timestamptz NOT NULL,
    actor          text        NOT NULL,
    action         text        NOT NULL,
    from_status    text        NOT NULL DEFAULT '',  -- '' for the submission
    to_status      text        NOT NULL,
    reason         text        NOT NULL DEFAULT '',
    version        bigint      NOT NULL,
    correlation_id text        NOT NULL DEFAULT ''
);

CREATE INDEX intake_history_request ON intake_history (request_id, at, id);
