DROP INDEX treatments_file_sha256;
DROP INDEX documents_sha256;
ALTER TABLE documents DROP COLUMN released_at;
ALTER TABLE documents DROP COLUMN released_by;
ALTER TABLE documents DROP COLUMN replacement_confirmed_at;
ALTER TABLE documents DROP COLUMN replacement_confirmed_by;
ALTER TABLE documents DROP COLUMN earlier_document_id;
ALTER TABLE treatments DROP COLUMN sent_blocks;
ALTER TABLE treatments DROP COLUMN authority;
