DROP TABLE supporting_documents;
DROP TABLE supporting_document_kinds;
DROP TABLE locker_items;
DROP TABLE locker_deposits;
DROP TABLE locker_group_members;
DROP TABLE locker_groups;
DROP TABLE locker_users;
