//! A desktop without some shared libraries, made without root: the command
//! runs in a private user and mount namespace (`unshare -rm`) where the
//! files behind the given libraries are covered by an empty file (bind
//! mounts), so `dlopen` fails as on a machine where they are not installed.
//! Nothing outside the namespace changes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The real files behind the shared library names in `sonames` (e.g.
/// `libayatana-appindicator3.so.1`) that the dynamic loader's cache lists.
/// Panics when none is installed: hiding it would prove nothing.
pub fn library_files(sonames: &[&str]) -> Vec<PathBuf> {
    let ldconfig = ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("ldconfig");
    let out = Command::new(ldconfig)
        .arg("-p")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {ldconfig} -p: {e}"));
    let listing = String::from_utf8_lossy(&out.stdout);
    let mut files = Vec::new();
    for soname in sonames {
        let found: Vec<PathBuf> = listing
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("{soname} ")))
            .filter_map(|l| l.split(" => ").nth(1))
            .filter_map(|p| std::fs::canonicalize(p.trim()).ok())
            .collect();
        files.extend(found);
    }
    assert!(
        !files.is_empty(),
        "none of {sonames:?} is installed here, so hiding them proves nothing: run scripts/setup.sh"
    );
    files.sort();
    files.dedup();
    files
}

/// `program`, to be run with the files in `hide` covered by the empty file
/// `empty` (which must exist). Add arguments and environment as usual.
pub fn without_files(program: &Path, hide: &[PathBuf], empty: &Path) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "--mount", "sh", "-ec"])
        .arg(
            "empty=$1; n=$2; shift 2; \
             while [ \"$n\" -gt 0 ]; do mount --bind \"$empty\" \"$1\"; shift; n=$((n - 1)); done; \
             exec \"$@\"",
        )
        .arg("sh")
        .arg(empty)
        .arg(hide.len().to_string())
        .args(hide)
        .arg(program);
    cmd
}
