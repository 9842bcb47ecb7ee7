// `sqlx::migrate!` embeds ./migrations when the crate compiles; without this, a migration
// added or edited later would not rebuild the crate, and the binary would lack it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
