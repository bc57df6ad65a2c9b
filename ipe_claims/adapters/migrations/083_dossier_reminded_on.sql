-- The worker still owing pieces is reminded once before the dossier's deadline (docs/rules.md, "After the
-- decision", `reminder_days_before_deadline`): `reminded_on` is the day the projector's sweep saw the
-- reminder due (ClaimDossierReminderDue's observed_on), set by dossier_projection.py, so the sweep asks only
-- about the dossiers not reminded yet. No row to fill: the event is new with the column. The sweep's range on
-- the deadline uses the index of 078 (dossiers_incomplete_by_deadline), whose condition its own implies.
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS reminded_on date;
