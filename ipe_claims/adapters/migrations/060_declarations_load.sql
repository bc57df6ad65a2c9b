-- Loading declarations at national scale (docs/scaling.md): the two foreign keys of `declarations` cost a
-- trigger call and an index probe per row, 60 % of a monthly load's time, for a guarantee the only
-- writer already gives: `declarations.merge_staged` inserts the affiliations and the insured of a batch
-- before its declarations, in the same transaction, and nothing deletes either.
ALTER TABLE declarations DROP CONSTRAINT IF EXISTS declarations_immatriculation_fkey;
ALTER TABLE declarations DROP CONSTRAINT IF EXISTS declarations_affiliation_number_fkey;
