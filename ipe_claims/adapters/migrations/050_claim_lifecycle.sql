-- A claim may wait for a declaration still coming, and a valid one may end early on return to work.
ALTER TABLE claims ADD COLUMN IF NOT EXISTS awaiting_month date;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS awaiting_due date;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS returned_to_work_on date;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS benefit_end_date date;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS months_due integer;
CREATE INDEX IF NOT EXISTS claims_awaiting ON claims (awaiting_due) WHERE awaiting_due IS NOT NULL;
