-- Delivery you can trust (issue 16).
-- `authority`: the composantes the uploader could act for when uploading (JSON array; NULL:
-- every composante, an administrator). A document goes only to a student validly enrolled
-- this year in one of them, unless an administrator released it.
ALTER TABLE treatments ADD COLUMN authority TEXT;
-- The blocks as they stood when the treatment was sent (JSON), frozen.
ALTER TABLE treatments ADD COLUMN sent_blocks TEXT;
-- The earlier document a held one duplicates (`already_delivered`) or corrects
-- (`replaces_delivered`).
ALTER TABLE documents ADD COLUMN earlier_document_id TEXT;
ALTER TABLE documents ADD COLUMN replacement_confirmed_by TEXT;
ALTER TABLE documents ADD COLUMN replacement_confirmed_at TIMESTAMP;
ALTER TABLE documents ADD COLUMN released_by TEXT;
ALTER TABLE documents ADD COLUMN released_at TIMESTAMP;
CREATE INDEX documents_sha256 ON documents (sha256);
CREATE INDEX treatments_file_sha256 ON treatments (file_sha256);
