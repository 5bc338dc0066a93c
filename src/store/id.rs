//! Ids as the database holds them: a UUID's 16 bytes (PostgreSQL `uuid`; SQLite a 16-byte BLOB
//! in a column declared `UUID`), not its 36 characters of text (issue 24, docs/decisions.md "Ids
//! stored as their 16 bytes"; the tables convert one migration at a time, from 24 on).
//!
//! The rest of Hafen keeps handling an id as its canonical text — in paths, bodies, events,
//! exports and logs it is the same UUID — so the conversion lives here, in one SQL type: a
//! column of type [`Id`] takes a UUID's text ([`bind`]) and gives back its canonical
//! hyphenated lower-case text as a `String`. Text that is no UUID is refused when the statement
//! is bound (a query error, never a silent mismatch); ids that come from outside are checked
//! where they come in (`http::extract::ItemId` for paths: an unknown id is a 404 before any
//! query; `error::Error::named_id` for ids named in a body: a 422 naming the field), in any
//! spelling, through [`canonical`].
//!
//! Both encodings order alike: the bytes compare as the hexadecimal text does, so paging by id
//! keeps its order.

use std::io::Write as _;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Nullable;
use diesel::sqlite::{Sqlite, SqliteValue};

use super::conn::MultiBackend;

/// The SQL type of an id column: a UUID stored as its 16 bytes.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Binary"))]
pub struct Id;

/// An id on its way into a query: its canonical text, bound as the 16 bytes it names. (A
/// `String` cannot bind as an [`Id`] itself: diesel's blanket implementations leave that to
/// diesel. Owned, because `DbConn` hands bound values on to either backend.)
#[derive(Debug, Clone, PartialEq, Eq, diesel::expression::AsExpression)]
#[diesel(sql_type = Id)]
pub struct BoundId(String);

impl From<String> for BoundId {
    fn from(text: String) -> Self {
        BoundId(text)
    }
}

/// An id that may be absent, for a nullable id column (`Nullable<Id>`): a row's `Option<String>`
/// field inserts through it (`#[diesel(serialize_as = …)]`), as a present id through [`BoundId`].
/// (`Option<BoundId>` would serve in a query, but a row's field needs a `From` its own crate may
/// write; the expression is the one diesel's derive writes for [`BoundId`].)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundOptionalId(Option<BoundId>);

impl From<Option<String>> for BoundOptionalId {
    fn from(text: Option<String>) -> Self {
        BoundOptionalId(text.map(BoundId))
    }
}

impl diesel::expression::AsExpression<Nullable<Id>> for BoundOptionalId {
    type Expression = diesel::internal::derives::as_expression::Bound<Nullable<Id>, Self>;

    fn as_expression(self) -> Self::Expression {
        diesel::internal::derives::as_expression::Bound::new(self)
    }
}

impl<DB: Backend> ToSql<Nullable<Id>, DB> for BoundOptionalId
where
    BoundId: ToSql<Id, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        match &self.0 {
            Some(id) => id.to_sql(out),
            None => Ok(IsNull::Yes),
        }
    }
}

/// `text` (a UUID) to bind as an [`Id`].
pub fn bind(text: impl AsRef<str>) -> BoundId {
    BoundId(text.as_ref().to_string())
}

/// Each of `texts` to bind as an [`Id`], for a list (`eq_any`, an array).
pub fn bind_all<S: AsRef<str>>(texts: &[S]) -> Vec<BoundId> {
    texts.iter().map(|t| bind(t.as_ref())).collect()
}

/// The canonical text (hyphenated, lower case) of the UUID `text` names in any of its spellings,
/// or `None` when it names none: for ids that come from outside, checked where they come in.
pub fn canonical(text: &str) -> Option<String> {
    uuid::Uuid::try_parse(text)
        .ok()
        .map(|id| id.hyphenated().to_string())
}

/// The UUID `text` names, or why it names none.
fn parse(text: &str) -> Result<uuid::Uuid, Box<dyn std::error::Error + Send + Sync>> {
    uuid::Uuid::try_parse(text).map_err(|e| format!("an id must be a UUID: {e}").into())
}

/// The canonical text of the UUID in `bytes`.
fn text_of(bytes: &[u8]) -> deserialize::Result<String> {
    let id = uuid::Uuid::from_slice(bytes)
        .map_err(|e| format!("a stored id is not 16 bytes ({} bytes): {e}", bytes.len()))?;
    Ok(id.hyphenated().to_string())
}

impl ToSql<Id, Pg> for BoundId {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(parse(&self.0)?.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl ToSql<Id, Sqlite> for BoundId {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(parse(&self.0)?.as_bytes().to_vec());
        Ok(IsNull::No)
    }
}

impl FromSql<Id, Pg> for String {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        text_of(value.as_bytes())
    }
}

impl FromSql<Id, Sqlite> for String {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let bytes = <Vec<u8> as FromSql<diesel::sql_types::Binary, Sqlite>>::from_sql(value)?;
        text_of(&bytes)
    }
}

// Through `DbConn`, which speaks to either backend: each backend's own conversion above.
impl diesel::sql_types::HasSqlType<Id> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<Id>(lookup)
    }
}

impl ToSql<Id, MultiBackend> for BoundId {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Id, self));
        Ok(IsNull::No)
    }
}

impl FromSql<Id, MultiBackend> for String {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, Id>()
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::{bind, bind_all, Id};

    diesel::table! {
        use diesel::sql_types::*;
        use super::Id;
        ids (id) {
            id -> Id,
            other -> Nullable<Id>,
        }
    }

    const A: &str = "0195f2a4-7c1e-7b3a-9d2e-000000000001";
    const B: &str = "0195f2a4-7c1e-7b3a-9d2e-000000000002";

    fn sqlite() -> SqliteConnection {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.batch_execute("CREATE TABLE ids (id BLOB PRIMARY KEY NOT NULL, other BLOB)")
            .unwrap();
        conn
    }

    /// An id goes in as text and is stored as its 16 bytes; it comes back as the same text,
    /// and is found by it (alone and in a list).
    #[test]
    fn an_id_is_stored_as_its_16_bytes_and_read_as_its_text() {
        let mut conn = sqlite();
        diesel::insert_into(ids::table)
            .values((ids::id.eq(bind(A)), ids::other.eq(Some(bind(B)))))
            .execute(&mut conn)
            .unwrap();
        diesel::insert_into(ids::table)
            .values((ids::id.eq(bind(B)), ids::other.eq(None::<super::BoundId>)))
            .execute(&mut conn)
            .unwrap();
        let stored: Vec<(String, i64)> =
            diesel::sql_query("SELECT typeof(id) AS kind, length(id) AS size FROM ids ORDER BY id")
                .load::<Stored>(&mut conn)
                .unwrap()
                .into_iter()
                .map(|s| (s.kind, s.size))
                .collect();
        assert_eq!(
            stored,
            vec![("blob".to_string(), 16), ("blob".to_string(), 16)]
        );
        let read: Vec<(String, Option<String>)> = ids::table
            .filter(ids::id.eq_any(bind_all(&[A, B])))
            .order(ids::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            read,
            vec![(A.to_string(), Some(B.to_string())), (B.to_string(), None)]
        );
        let found: String = ids::table
            .filter(ids::other.eq(bind(B)))
            .select(ids::id)
            .first(&mut conn)
            .unwrap();
        assert_eq!(found, A);
    }

    /// Text that is no UUID is refused when bound, not compared as something else.
    #[test]
    fn text_that_is_no_uuid_is_refused_not_looked_up() {
        let mut conn = sqlite();
        let err = ids::table
            .filter(ids::id.eq(bind("not-a-uuid")))
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap_err();
        assert!(err.to_string().contains("an id must be a UUID"), "{err}");
        let err = diesel::insert_into(ids::table)
            .values(ids::id.eq(bind("0195f2a4")))
            .execute(&mut conn)
            .unwrap_err();
        assert!(err.to_string().contains("an id must be a UUID"), "{err}");
    }

    /// A UUID in another spelling (upper case, no hyphens) is the same id, read back canonical.
    #[test]
    fn an_id_reads_back_in_its_canonical_spelling() {
        let mut conn = sqlite();
        diesel::insert_into(ids::table)
            .values(ids::id.eq(bind("0195F2A47C1E7B3A9D2E000000000001")))
            .execute(&mut conn)
            .unwrap();
        let read: String = ids::table.select(ids::id).first(&mut conn).unwrap();
        assert_eq!(read, A);
    }

    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = diesel::sql_types::Text)]
        kind: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        size: i64,
    }
}
