-- Languages (SPEC section 3): requests in Russian, Belarusian, Chinese and
-- English, analysed in the services by one analyser (common/tb_text.c) rather
-- than by PostgreSQL's 'english' configuration, which keeps a run of Chinese
-- characters as one token and neither stems Russian nor drops its stop words.

-- The multilingual thesaurus (deploy/thesaurus/README.md): reference data
-- that intake and matching both read, like `sectors`. Written only by
-- tb-matching's load_thesaurus call, one source at a time, in one transaction.
CREATE TABLE thesaurus_concepts (
    id      text   PRIMARY KEY CHECK (length(id) BETWEEN 3 AND 64),
    source  text   NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    sectors text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX thesaurus_concepts_source ON thesaurus_concepts (source);

-- Labels of a concept per language; ord 0 is the concept's name in it.
CREATE TABLE thesaurus_labels (
    concept_id text NOT NULL REFERENCES thesaurus_concepts (id) ON DELETE CASCADE,
    lang       text NOT NULL CHECK (lang IN ('en', 'ru', 'be', 'zh')),
    ord        int  NOT NULL CHECK (ord >= 0),
    label      text NOT NULL CHECK (length(label) BETWEEN 2 AND 80),
    PRIMARY KEY (concept_id, lang, ord)
);

CREATE TABLE thesaurus_sources (
    source    text        PRIMARY KEY,
    file      text        NOT NULL DEFAULT '',
    concepts  int         NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    loaded_by text        NOT NULL DEFAULT ''
);

-- Bumped by every load: the services compare it with the version they hold
-- (every few seconds) and load the new thesaurus without a restart.
CREATE TABLE thesaurus_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint  NOT NULL DEFAULT 0
);
INSERT INTO thesaurus_version (one, version) VALUES (true, 0);

-- tb-intake: the language of each request (declared, else detected) and its
-- search terms as the analyser made them: stems, Chinese words, Chinese
-- characters and pairs of characters, and the concepts it names ('#' + id).
ALTER TABLE intake_requests
    ADD COLUMN language text   NOT NULL DEFAULT '',
    ADD COLUMN terms    text[] NOT NULL DEFAULT '{}',
    -- The thesaurus version `terms` was made with; -1: not analysed yet
    -- (rows from before this migration). Intake re-analyses rows behind the
    -- current version in the background.
    ADD COLUMN analysed bigint NOT NULL DEFAULT -1;
DROP INDEX IF EXISTS intake_requests_search;
ALTER TABLE intake_requests DROP COLUMN search;
CREATE INDEX intake_requests_terms ON intake_requests USING gin (terms);
-- What the re-analysis claims after a thesaurus load (or this migration).
CREATE INDEX intake_requests_analysed ON intake_requests (analysed);

-- tb-matching: the request's language and its organisation's, the concepts
-- its text names and, per concept, the words that named it. `terms` now
-- comes from the analyser too (stems and '#' + concept id), so the tsvector
-- it was made from goes.
ALTER TABLE matching_requests
    ADD COLUMN language     text   NOT NULL DEFAULT '',
    ADD COLUMN org_language text   NOT NULL DEFAULT '',
    ADD COLUMN concepts     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN phrases      text[] NOT NULL DEFAULT '{}';
ALTER TABLE matching_requests DROP COLUMN tsv;
