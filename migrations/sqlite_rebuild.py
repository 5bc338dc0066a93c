#!/usr/bin/env python3
"""Writes the SQLite half of a migration that stores an id family as 16 bytes (migrations 28, 29;
docs/decisions.md "Ids stored as their 16 bytes"): SQLite cannot change a column's type, so each
table of the family is made anew, in the order that keeps every reference holding at every step
(new parents first, then new tables referring to the new parents; old tables dropped leaves
first; renames parents first; indexes last).

    python3 migrations/sqlite_rebuild.py <family> up   [--before <new>] > up.sql    (after the header)
    python3 migrations/sqlite_rebuild.py <family> down [--before <new>] > down.sql  (likewise)

`--before <new>` (the new migration's directory name) leaves out the migrations from it on, so
that a migration already written is generated again from the version before it.

It reads each table's SQL from a database migrated to the latest version (the migrations in
migrations/sqlite applied here with Python's sqlite3 and an `unhex` of its own), so the new
tables keep every column, default, reference and index as they are; `down` reads them after the
generated `up`. FAMILIES holds each family's groups: each group is a list of (table, [columns
converted], [parents rebuilt in the same group]), parents first. The output is checked where every migration
is: `tests/it/schema.rs` (both backends and schema.rs describe the same database; a family's
migration test up and down with rows). The header comment of each file is written by hand.
"""
import glob
import os
import re
import sqlite3
import sys
import tempfile

# Each family: its groups, as above. "contact" is migration 29 (a contact's id: the tree below
# `contacts` — messages with their outbox and files —, then the tables naming a contact without a
# reference to it); "tenant" is the tenant's id (the next migration): every table refers to
# `tenants`, so one group holds them all, each after every table it refers to, with `ui_sessions`
# (no tenant of its own, but it refers to `ui_users`). `message_delivery` is 16 bytes already;
# `audit_log.tenant_id` has no reference and converts in its own group.
FAMILIES = {
    "contact": [
        [("contacts", ["id"], []),
         ("contact_keys", ["contact_id"], ["contacts"]),
         ("consents", ["contact_id"], ["contacts"]),
         ("legal_holds", ["contact_id"], ["contacts"]),
         ("messages", ["contact_id"], ["contacts"]),
         ("outbox", [], ["messages"]),
         ("attachments", [], ["messages"])],
        [("subject_requests", ["contact_id"], []),
         ("erasure_items", ["contact_id"], ["subject_requests"])],
        [("consent_ledger", ["contact_id"], [])],
    ],
    "tenant": [
        [("tenants", ["id"], []),
         ("api_tokens", ["tenant_id"], ["tenants"]),
         ("channels", ["tenant_id"], ["tenants"]),
         ("event_hooks", ["tenant_id"], ["tenants"]),
         ("bots", ["tenant_id"], ["tenants", "channels", "event_hooks", "api_tokens"]),
         ("consent_purposes", ["tenant_id"], ["tenants"]),
         ("broadcasts", ["tenant_id"], ["tenants", "consent_purposes"]),
         ("consent_settings", ["tenant_id"], ["tenants"]),
         ("consent_texts", ["tenant_id"], ["tenants", "consent_purposes"]),
         ("contacts", ["tenant_id"], ["tenants"]),
         ("consents", ["tenant_id"], ["tenants", "contacts", "consent_purposes", "consent_texts"]),
         ("contact_keys", ["tenant_id"], ["tenants", "contacts"]),
         ("legal_holds", ["tenant_id"], ["tenants", "contacts"]),
         ("messages", ["tenant_id"], ["tenants", "contacts"]),
         ("outbox", ["tenant_id"], ["tenants", "messages"]),
         ("attachments", ["tenant_id"], ["tenants", "messages"]),
         ("message_statuses", ["tenant_id"], ["tenants"]),
         ("subject_requests", ["tenant_id"], ["tenants"]),
         ("erasure_items", ["tenant_id"], ["tenants", "subject_requests"]),
         ("event_deliveries", ["tenant_id"], ["tenants", "event_hooks"]),
         ("period_keys", ["tenant_id"], ["tenants"]),
         ("register_entries", ["tenant_id"], ["tenants"]),
         ("retention_certificates", ["tenant_id"], ["tenants"]),
         ("retention_previews", ["tenant_id"], ["tenants"]),
         ("retention_rule_sets", ["tenant_id"], ["tenants", "retention_previews"]),
         ("ui_users", ["tenant_id"], ["tenants"]),
         ("ui_sessions", [], ["ui_users"])],
        [("consent_ledger", ["tenant_id"], [])],
        [("audit_log", ["tenant_id"], [])],
    ],
}
HERE = os.path.dirname(os.path.abspath(__file__))


def migrated(path, before, extra=None):
    c = sqlite3.connect(path)
    c.create_function("unhex", 1, lambda s: None if s is None else bytes.fromhex(s))
    c.execute("PRAGMA foreign_keys = ON")
    for f in sorted(glob.glob(os.path.join(HERE, "sqlite", "*", "up.sql"))):
        if before and os.path.basename(os.path.dirname(f)) >= before:
            continue
        c.executescript(open(f).read())
    if extra:
        c.executescript(extra)
    return c


def cols(c, t):
    return [r[1] for r in c.execute(f"PRAGMA table_info('{t}')")]


def table_sql(c, t):
    (sql,) = c.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (t,)).fetchone()
    # Columns added by ALTER TABLE ADD COLUMN sit on the last line: one per line.
    m = re.search(r"\n, (.*)\)$", sql)
    if m:
        added = m.group(1).split(", ")
        sql = sql[:m.start()] + ",\n" + ",\n".join("    " + a for a in added) + "\n)"
    return sql


def indexes(c, t):
    return [r[0] for r in c.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
        "ORDER BY rowid", (t,))]


def wrap(prefix, items, indent):
    """Items joined by commas into lines of at most 99 characters; an item of several lines
    stands on its own."""
    lines, cur = [], prefix
    for i, it in enumerate(items):
        piece = it + ("," if i < len(items) - 1 else "")
        if "\n" in piece:
            if cur.strip() and cur != prefix:
                lines.append(cur.rstrip())
                cur = indent
            lines.append(cur + piece)
            cur = indent
            continue
        if cur.strip() and len(cur) + 1 + len(piece) > 99 and cur != prefix:
            lines.append(cur.rstrip())
            cur = indent + piece
        else:
            cur = cur + ("" if cur in (prefix, indent) else " ") + piece
    if cur.strip():
        lines.append(cur)
    return "\n".join(lines)


def new_table(c, t, conv, refs, suffix, to_type):
    sql = re.sub(r'^CREATE TABLE "?%s"?' % t, f"CREATE TABLE {t}{suffix}", table_sql(c, t))
    frm = "TEXT" if to_type == "UUID" else "UUID"
    for col in conv:
        sql, n = re.subn(r"(\n\s+%s )%s\b" % (col, frm), r"\g<1>" + to_type, sql)
        assert n == 1, (t, col)
    for parent in refs:
        sql, n = re.subn(r'REFERENCES "?%s"? ?\(id\)' % parent, f"REFERENCES {parent}{suffix}(id)", sql)
        assert n >= 1, (t, parent)
    return sql + ";"


def insert(c, t, conv, suffix, to_type):
    assert len(conv) <= 1, "one converted column per table (the alias below is one)"
    cs = cols(c, t)
    if to_type == "UUID":
        # 16 bytes or NULL: a NOT NULL column stops the upgrade at an id that is no UUID.
        sel = ["iif(length(b) = 16, b, NULL)" if x in conv else x for x in cs]
        inner = ", ".join(f"unhex(replace({x}, '-', '')) AS b" for x in conv)
    else:
        text = ("substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4)\n"
                "         || '-' || substr(h, 17, 4) || '-' || substr(h, 21)")
        sel = [text if x in conv else x for x in cs]
        inner = ", ".join(f"nullif(lower(hex({x})), '') AS h" for x in conv)
    source = f"FROM (SELECT {inner}, * FROM {t});" if conv else f"FROM {t};"
    return wrap(f"INSERT INTO {t}{suffix} (", cs, "    ") + ")\n" + wrap("SELECT ", sel, "       ") + "\n" + source


def group(c, tables, suffix, to_type):
    out = []
    for t, conv, refs in tables:
        out += [new_table(c, t, conv, refs, suffix, to_type), "", insert(c, t, conv, suffix, to_type), ""]
    out += [f"DROP TABLE {t};" for t, _, _ in reversed(tables)] + [""]
    out += [f"ALTER TABLE {t}{suffix} RENAME TO {t};" for t, _, _ in tables] + [""]
    out += [i + ";" for t, _, _ in tables for i in indexes(c, t)] + [""]
    return "\n".join(out)


def generate(c, groups, suffix, to_type):
    return "\n".join(group(c, g, suffix, to_type) for g in groups)


def main():
    args = sys.argv[1:]
    usage = "usage: sqlite_rebuild.py contact|tenant up|down [--before <migration directory>]"
    if len(args) not in (2, 4) or args[0] not in FAMILIES or args[1] not in ("up", "down"):
        sys.exit(usage)
    if len(args) == 4 and args[2] != "--before":
        sys.exit(usage)
    groups, direction = FAMILIES[args[0]], args[1]
    before = args[3] if len(args) == 4 else None
    with tempfile.TemporaryDirectory() as d:
        c = migrated(os.path.join(d, "schema.db"), before)
        if direction == "up":
            print(generate(c, groups, "_new", "UUID"))
        else:
            c = migrated(os.path.join(d, "after.db"), before, generate(c, groups, "_new", "UUID"))
            print(generate(c, groups, "_old", "TEXT"))


if __name__ == "__main__":
    main()
