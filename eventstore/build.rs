//! `sqlx::migrate!` embeds `../migrations` at compile time, but cargo does not know the macro
//! read those files: without this, a new or edited migration is missing from an incremental
//! build (a warm CI cache included) until some source of this crate changes.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
