-- A counter raised by every profile change, in the same statement that changes it. An instance
-- keeps the languages of the profiles it has read in memory under this version and reads again
-- only the profiles whose version moved, instead of every profile of a language every round.
ALTER TABLE interpreters ADD COLUMN profile_version INTEGER NOT NULL DEFAULT 0;
