-- tb-intake: less work for every request row written.

-- The trigram index served the duplicate check's % operator. The check now
-- reads the org's own rows through intake_requests_org and computes
-- similarity() on each (intake_store.c, DUPLICATE_OF), and nothing else
-- searches titles by trigram: the index was maintained on every submission
-- and every title edit for no reader (about 10 us of backend CPU per row).
DROP INDEX IF EXISTS intake_requests_title_trgm;

-- A request row is about 2.8 kB (the packed body, its fingerprint, the search
-- vector): past the 2 kB at which PostgreSQL tries to compress it and then
-- moves a field out to the TOAST table. Packed protobuf does not compress by
-- the quarter pglz asks, so every insert paid a failed compression and a
-- second heap and index insert, and every read of the row a second lookup
-- (about 16 us of backend CPU per row written). Rows now stay whole up to a
-- page.
ALTER TABLE intake_requests SET (toast_tuple_target = 8160);
