DROP TABLE event_deliveries;
DROP TABLE event_hooks;
