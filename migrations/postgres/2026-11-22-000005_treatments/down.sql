DROP TABLE documents;
DROP TABLE treatments;
