-- The sender's display name (JWT `name` claim) when a staff member deposited, shown to the
-- recipients; students are named from the registry.
ALTER TABLE locker_deposits ADD COLUMN sender_name TEXT;
