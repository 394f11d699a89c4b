//! Rebuilds the binary when the web UI's build output changes: release builds embed
//! `web/dist` (see `src/api/ui.rs`), and a file added there would otherwise go unnoticed.
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
