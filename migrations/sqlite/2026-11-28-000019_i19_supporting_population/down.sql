ALTER TABLE supporting_documents DROP COLUMN received_at;
ALTER TABLE supporting_documents DROP COLUMN received_by_name;
ALTER TABLE supporting_documents DROP COLUMN received_by;
ALTER TABLE supporting_documents DROP COLUMN channel;
ALTER TABLE supporting_document_kinds DROP COLUMN boursier;
ALTER TABLE supporting_document_kinds DROP COLUMN regimes;
ALTER TABLE enrolments DROP COLUMN boursier;
ALTER TABLE enrolments DROP COLUMN regime;
