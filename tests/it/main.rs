//! Hafen's integration tests: one binary, a real server per test, each backend on its own
//! database. PostgreSQL variants need the server at 127.0.0.1:5432 (required when CI=true).

mod support;

mod api;
mod architecture;
mod bad_input;
mod bots;
mod business_letters;
mod channels;
mod cli;
mod clients;
mod consent;
mod crash;
mod disk;
mod documents;
mod erasure;
mod events;
mod fake_platform;
mod instances;
mod isolation;
mod letters;
mod media;
mod ops;
mod process;
mod records;
mod retention;
mod schema;
mod send;
mod storage;
mod tls;
mod tokens;
mod ui;
mod ui_agent;
mod ui_channels;
mod ui_people;
mod ui_register;
mod ui_retention;
mod widget;
