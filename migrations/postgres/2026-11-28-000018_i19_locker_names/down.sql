ALTER TABLE locker_deposits DROP COLUMN sender_name;
