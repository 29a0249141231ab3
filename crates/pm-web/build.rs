// The embedded UI is read from dist/ at compile time; rebuild when any file there changes,
// is added or removed (cargo scans a directory given here recursively).
fn main() {
    println!("cargo:rerun-if-changed=dist");
}
