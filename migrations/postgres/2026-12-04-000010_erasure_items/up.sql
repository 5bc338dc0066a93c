-- What an erasure request kept back, one row per data category of the contact: the rule that
-- kept it (as it stood), the fixed start of its period where the start point is not the
-- item's own time, and the last item's end. The retention run erases each kept item when its
-- end passes and closes the row; an end that cannot be computed waits for the DPO's decision.
CREATE TABLE erasure_items (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    request_id TEXT NOT NULL REFERENCES subject_requests(id),
    -- No foreign key: the row outlives the contact it erased.
    contact_id TEXT NOT NULL,
    category TEXT NOT NULL,
    -- For messages: business_letter or other.
    class TEXT,
    rule TEXT NOT NULL,
    start_at BIGINT,
    requested_at BIGINT NOT NULL,
    kept INTEGER NOT NULL,
    held INTEGER NOT NULL,
    until BIGINT,
    state TEXT NOT NULL,
    decision TEXT,
    decision_reason_sealed BYTEA,
    decided_by TEXT,
    decided_at BIGINT,
    done_at BIGINT,
    UNIQUE (request_id, category, class)
);
CREATE INDEX erasure_items_state ON erasure_items (tenant_id, state);
-- A request's history (created, extended, answered, decided, letters) is read from the audit
-- log by object.
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
