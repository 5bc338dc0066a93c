-- PostgreSQL's migration 22 replaces the message's two references (tenant, contact) by one to
-- (contact_id, tenant_id): there every reference is a trigger per inserted row and the tenant's
-- took a lock on the one tenant row. SQLite checks a reference by probing the parent's B-tree in
-- the same process, and changing a table's constraints means rebuilding it (every message
-- copied), so it keeps its two references (docs/decisions.md). Kept as a migration of its own so
-- both folders number their migrations alike.
SELECT 1;
