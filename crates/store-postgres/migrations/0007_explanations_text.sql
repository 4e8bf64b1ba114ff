-- Explanations are stored as the text Dragoman serialized, not as jsonb: the body is written at
-- every offer (about 60 KB with 380 candidates) and read only by the admin endpoint, which parses
-- it. Converting it to jsonb cost the database about 1 ms per offer (pg_stat_statements on the
-- matching benchmark: 0.96 ms mean for the INSERT), more than any other statement of a match.
-- Only Dragoman writes the column, always from serde_json; nothing queries inside it.
ALTER TABLE explanations ALTER COLUMN body TYPE text USING body::text;
ALTER TABLE explanations ALTER COLUMN body SET COMPRESSION lz4;
