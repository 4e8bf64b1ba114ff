-- What matching reads every round, made cheap to read.
--
-- profile_version: a counter raised by every profile change, in the statement that changes it.
-- An instance keeps the languages of the profiles it has read in memory under this version and
-- reads again only those whose version moved, instead of every profile of a language per round.
ALTER TABLE interpreters ADD COLUMN profile_version bigint NOT NULL DEFAULT 0;

-- language_codes: the codes of the profile's languages (interpreter_languages stays the record,
-- with levels and order), written with them. Its GIN index finds a language's interpreters
-- without joining interpreter_languages to every row of interpreters: on the matching
-- benchmark's data (382 of 5,000 interpreters), EXPLAIN ANALYZE gave 2.5 ms through the join and
-- 0.4 ms through the index (BENCHMARKS.md, "Matching", has the figures under load).
ALTER TABLE interpreters ADD COLUMN language_codes text[] NOT NULL DEFAULT '{}';
UPDATE interpreters i SET language_codes = l.codes
FROM (SELECT user_id, array_agg(code ORDER BY position) AS codes
      FROM interpreter_languages GROUP BY user_id) l
WHERE l.user_id = i.user_id;
-- Without a pending list (fastupdate = off): a round reads the index at once, and a pending
-- list fed by every non-HOT status update would make each read scan it whole.
CREATE INDEX interpreters_language_codes_idx ON interpreters USING gin (language_codes)
    WITH (fastupdate = off);
-- Room on each page for status updates to stay HOT (no new index entries at all).
ALTER TABLE interpreters SET (fillfactor = 70);

-- Explanations are written at every offer (about 60 KB of JSON with 380 candidates) and read
-- rarely: LZ4 compresses them at a fraction of the CPU of the default pglz (2.1 ms per offer with
-- pglz, 1.3 ms with LZ4, parse included). PostgreSQL 14 and later as built by Debian and by RDS
-- include LZ4.
ALTER TABLE explanations ALTER COLUMN body SET COMPRESSION lz4;
