-- The author's display name (JWT `name` claim) when the upload was made, shown in the treatment list.
ALTER TABLE treatments ADD COLUMN created_by_name TEXT;
