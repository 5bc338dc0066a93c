//! Tenants: the controllers (companies) whose data Hafen keeps. Each has its own data key, from
//! which its blind-index key is derived, so lookups never work across tenants. Its id and
//! name, and its row; creating one is `accounts::Tenants`.

use std::fmt;

use diesel::prelude::*;
use serde::Serialize;

use crate::clock::to_micros;
use crate::error::{Error, Result};
use crate::store::id;
use crate::store::schema::tenants;
use crate::store::{DbConn, StoreError};

/// A tenant's id: a UUID in its canonical text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Parses an id from a path or a config; anything that is not a UUID is unknown.
    pub fn parse(s: &str) -> Result<Self> {
        uuid::Uuid::try_parse(s)
            .map(|u| Self(u.hyphenated().to_string()))
            .map_err(|_| Error::NotFound)
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's display name: the company's name, 1–200 characters, no control characters.
#[derive(Debug, Clone)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 200 {
            return Err(Error::invalid("name", "must be 1 to 200 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub wrapped_key: Vec<u8>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tenants)]
pub struct NewTenantRow {
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub id: String,
    pub name: String,
    pub wrapped_key: Vec<u8>,
    pub created_at: i64,
}

impl NewTenantRow {
    pub fn new(
        id: &TenantId,
        name: &TenantName,
        wrapped_key: Vec<u8>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            id: id.as_str().to_string(),
            name: name.as_str().to_string(),
            wrapped_key,
            created_at: to_micros(at),
        }
    }
}

pub fn insert(conn: &mut DbConn, row: &NewTenantRow) -> Result<(), StoreError> {
    diesel::insert_into(tenants::table)
        .values(row.clone())
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &TenantId) -> Result<Option<TenantRow>, StoreError> {
    Ok(tenants::table
        .filter(tenants::id.eq(id::bind(id.as_str())))
        .select(TenantRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<TenantRow>, StoreError> {
    Ok(tenants::table
        .order(tenants::id.asc())
        .select(TenantRow::as_select())
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_validate() {
        assert!(TenantId::parse("not-a-uuid").is_err());
        let id = TenantId::generate();
        assert_eq!(TenantId::parse(id.as_str()).unwrap(), id);
        assert!(TenantName::parse("  ").is_err());
        assert!(TenantName::parse("Muster\u{7}GmbH").is_err());
        assert_eq!(
            TenantName::parse(" Muster GmbH ").unwrap().as_str(),
            "Muster GmbH"
        );
    }
}
