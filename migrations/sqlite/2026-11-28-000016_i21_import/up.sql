-- The import checks that an INE does not already belong to another student number: without an
-- index, each chunk of the import scanned the students table.
CREATE INDEX students_ine ON students (ine);
