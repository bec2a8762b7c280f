-- Supporting documents by population (régime, boursier), and pieces received on paper.
-- An enrolment's population, from the import's optional columns; NULL: unknown.
ALTER TABLE enrolments ADD COLUMN regime TEXT;
ALTER TABLE enrolments ADD COLUMN boursier BOOLEAN;
-- A requirement's population filter: régimes (comma-separated; NULL: every régime) and
-- boursier (NULL: either).
ALTER TABLE supporting_document_kinds ADD COLUMN regimes TEXT;
ALTER TABLE supporting_document_kinds ADD COLUMN boursier BOOLEAN;
-- `upload` (the student deposited a file) or `paper` (a manager recorded a piece received on
-- paper: no file; who recorded it and when it was received).
ALTER TABLE supporting_documents ADD COLUMN channel TEXT NOT NULL DEFAULT 'upload';
ALTER TABLE supporting_documents ADD COLUMN received_by TEXT;
ALTER TABLE supporting_documents ADD COLUMN received_by_name TEXT;
ALTER TABLE supporting_documents ADD COLUMN received_at TIMESTAMP;
