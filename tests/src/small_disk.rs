//! A small disk for a test to fill: a tmpfs of a few MiB mounted on a folder of its own under
//! the temp folder, unmounted when dropped. Mounting needs root, or a user namespace in which
//! the test is root: [`on_small_disk`] mounts where it may, else runs the test again inside
//! `unshare --user --map-root-user --mount`, and fails saying what is missing when neither works
//! — it never passes without having run.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Set in the run of a test inside the namespace made for it.
const IN_NAMESPACE: &str = "PATROL_SMALL_DISK_NAMESPACE";

/// A mounted tmpfs; unmounted and removed when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// Mount a tmpfs of `size` (as `mount -o size=` takes it: `2m`, `512k`) on a new folder.
    pub fn mount(size: &str) -> Result<SmallDisk, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "patrol-small-disk-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0700"))
            .arg("tmpfs")
            .arg(&dir)
            .output();
        match out {
            Ok(out) if out.status.success() => Ok(SmallDisk { dir }),
            Ok(out) => {
                let _ = std::fs::remove_dir(&dir);
                Err(format!(
                    "mount -t tmpfs: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(format!("cannot run mount: {e}"))
            }
        }
    }

    /// The mounted folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Fill the disk with a file of its own until `leave` bytes are free (to the nearest page).
    /// Deleting the file gives the space back.
    pub fn fill_leaving(&self, leave: u64) -> std::io::Result<PathBuf> {
        let path = self.dir.join("filler");
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let chunk = vec![0x5a_u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => return Err(e),
            }
        }
        let full = file.metadata()?.len();
        file.set_len(full.saturating_sub(leave))?;
        file.sync_all()?;
        Ok(path)
    }

    /// Fill what is left.
    pub fn fill(&self) -> std::io::Result<PathBuf> {
        self.fill_leaving(0)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut cmd = Command::new("umount");
            if lazy {
                cmd.arg("-l");
            }
            cmd.arg(&self.dir)
                .output()
                .is_ok_and(|out| out.status.success())
        };
        if !umount(false) && !umount(true) {
            eprintln!("could not unmount {}", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Run the test `name` (the name libtest knows it by) on a small disk of `size`. Mounts here
/// when this process may; otherwise runs this test again, alone, in a new user and mount
/// namespace where it may, and passes on its outcome. Panics with what is needed when neither
/// works.
pub fn on_small_disk(name: &str, size: &str, test: impl FnOnce(&SmallDisk)) {
    let here = SmallDisk::mount(size);
    if let Ok(disk) = &here {
        test(disk);
        return;
    }
    let why = here.err().unwrap_or_default();
    assert!(
        std::env::var_os(IN_NAMESPACE).is_none(),
        "cannot mount a tmpfs even inside a user namespace: {why}"
    );
    let usable = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "true"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        usable,
        "this test fills a small disk of its own and cannot make one ({why}): run it as root, \
         or where unprivileged user namespaces are allowed (`unshare --user --map-root-user \
         --mount true` must work: sysctl kernel.unprivileged_userns_clone=1, and on Ubuntu \
         kernel.apparmor_restrict_unprivileged_userns=0), with util-linux's mount and unshare"
    );
    let exe = std::env::current_exe().unwrap_or_default();
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount"])
        .arg(&exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NAMESPACE, "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} in a namespace: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in a user namespace ({}):\n{stdout}\n{stderr}",
        out.status
    );
}
