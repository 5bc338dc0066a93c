DROP TABLE ui_sessions;
DROP TABLE ui_users;
DROP TABLE ui_keys;
