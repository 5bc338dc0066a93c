DROP TABLE erasure_items;
