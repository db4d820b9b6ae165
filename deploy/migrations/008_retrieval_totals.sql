-- Matching's retrieval ranks the candidates of a new request by an estimate of
-- their text score before reading their document frequencies (docs/scoring.md,
-- "Finding candidates"). The text score divides by the need's own idf total;
-- when the new request is an offer, the need is the candidate, so each
-- published request keeps the idf totals of its words and of its concepts, in
-- millionths, as of its last write. An estimate only: the score itself is
-- always computed from the current frequencies.

-- The idf total (millionths, each term rounded as matching_store.c's s_micro)
-- of the words (concepts = false) or the concepts ('#' + id) among `terms`,
-- with the frequencies and N of now. A term nobody else holds counts df 1.
CREATE FUNCTION matching_idf_total(terms text[], concepts boolean) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(round(1e6 * ln(1 + greatest(c.published, 1)::float8
                                            / greatest(coalesce(t.df, 0), 1)))), 0)::bigint
    FROM unnest(terms) AS u(term)
    LEFT JOIN matching_terms t ON t.term = u.term
    CROSS JOIN matching_corpus c
    WHERE (left(u.term, 1) = '#') = concepts
$$;

ALTER TABLE matching_requests
    ADD COLUMN idf_words    bigint NOT NULL DEFAULT 0,
    ADD COLUMN idf_concepts bigint NOT NULL DEFAULT 0;

UPDATE matching_requests
   SET idf_words = matching_idf_total(terms, false),
       idf_concepts = matching_idf_total(terms, true);
