//! The locale files are compiled into the binary (`fluent_templates::static_loader!`): a new or
//! changed `.ftl` file must rebuild this crate, which cargo does not know by itself.
fn main() {
    println!("cargo:rerun-if-changed=locales");
    for dir in std::fs::read_dir("locales").into_iter().flatten().flatten() {
        println!("cargo:rerun-if-changed={}", dir.path().display());
    }
}
