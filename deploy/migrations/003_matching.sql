-- tb-matching: its projection of the requests it follows on the "requests"
-- feed, the document frequencies of their terms, and the matches.

-- One row per request seen on the feed (any status); only status 2
-- (PUBLISHED) rows are candidates.
CREATE TABLE matching_requests (
    id               uuid        PRIMARY KEY,
    kind             int         NOT NULL,            -- techbridge.Kind
    org_id           text        NOT NULL,
    status           int         NOT NULL,            -- techbridge.Status
    sector           text        NOT NULL,
    keywords         text[]      NOT NULL DEFAULT '{}',
    trl              int         NOT NULL,
    cooperation      int[]       NOT NULL DEFAULT '{}',
    target_countries text[]      NOT NULL DEFAULT '{}',
    country          text        NOT NULL DEFAULT '',
    org_name         text        NOT NULL DEFAULT '',
    org_region       text        NOT NULL DEFAULT '',
    contact_name     text        NOT NULL DEFAULT '',
    contact_email    text        NOT NULL DEFAULT '',
    contact_phone    text        NOT NULL DEFAULT '',
    title            text        NOT NULL DEFAULT '',
    summary          text        NOT NULL DEFAULT '',
    -- keywords and title weigh A, the summary B; the source of `terms`.
    tsv              tsvector    NOT NULL,
    -- tsvector_to_array(tsv): the stemmed terms the scorer compares.
    terms            text[]      NOT NULL DEFAULT '{}',
    version          bigint      NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Candidate retrieval (docs/scoring.md), both branches bounded:
-- text: published offers (kind 1) / needs (kind 2) holding a given term. One
-- partial index per kind so that a lookup reads only rows of the kind it wants;
-- fastupdate off so that a lookup never scans a long pending list.
CREATE INDEX matching_requests_terms_offers ON matching_requests USING gin (terms)
    WITH (fastupdate = off) WHERE status = 2 AND kind = 1;
CREATE INDEX matching_requests_terms_needs ON matching_requests USING gin (terms)
    WITH (fastupdate = off) WHERE status = 2 AND kind = 2;
-- sector: published requests of a kind and sector, by id (a fixed sample that
-- depends only on the feed, so that a replay gives the same matches).
CREATE INDEX matching_requests_sector ON matching_requests (kind, status, sector, id);

-- Document frequency of each term over the PUBLISHED requests, kept in the
-- consumer's transaction when a request enters, leaves or is edited while
-- PUBLISHED. idf(t) = ln(1 + N / df(t)).
CREATE TABLE matching_terms (
    term text PRIMARY KEY,
    df   int  NOT NULL CHECK (df >= 0)
);

-- N: how many requests are PUBLISHED.
CREATE TABLE matching_corpus (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    published bigint  NOT NULL DEFAULT 0 CHECK (published >= 0)
);
INSERT INTO matching_corpus (one, published) VALUES (true, 0);

-- A pair is stored once; re-scoring updates it.
CREATE TABLE matching_matches (
    id         uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
    offer_id   uuid             NOT NULL,
    need_id    uuid             NOT NULL,
    score      double precision NOT NULL,
    reasons    bytea            NOT NULL,  -- a packed techbridge.Match holding only `reasons`
    status     int              NOT NULL,  -- techbridge.MatchStatus
    version    bigint           NOT NULL DEFAULT 1,
    reason     text             NOT NULL DEFAULT '',
    created_at timestamptz      NOT NULL DEFAULT now(),
    updated_at timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (offer_id, need_id)
);
CREATE INDEX matching_matches_need ON matching_matches (need_id);
