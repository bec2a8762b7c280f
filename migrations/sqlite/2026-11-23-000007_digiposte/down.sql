DROP INDEX documents_awaiting;
DROP TABLE digiposte_receipts;
