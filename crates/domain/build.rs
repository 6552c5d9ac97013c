//! `db::MIGRATIONS` embeds ../../migrations at compile time, but cargo only rebuilds this crate when
//! its own sources change: a migration directory added by a merge would otherwise be missing from
//! the binaries (and from the e2e tests) until something in this crate is touched.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
