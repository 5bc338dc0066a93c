//! Rebuilds Hafen when a migration is added or changed: `embed_migrations!` reads
//! `migrations/` at compile time, and cargo by itself tracks only the files it already embedded,
//! so a new migration directory would otherwise be missing from the binary until some source
//! file changed (diesel_migrations' documented advice).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
