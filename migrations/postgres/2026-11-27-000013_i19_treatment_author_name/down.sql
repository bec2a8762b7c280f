ALTER TABLE treatments DROP COLUMN created_by_name;
