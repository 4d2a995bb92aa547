//! A SQLite VFS that fails on purpose: it wraps the platform's default VFS (unix), counts the
//! reads, writes and fsyncs of every file SQLite opens through it, and can be told to fail from
//! the Nth of one kind on — a write with `SQLITE_IOERR_WRITE`, or with `SQLITE_FULL` after
//! writing only half (a disk that filled up mid-write), an fsync with `SQLITE_IOERR_FSYNC`, a
//! read with `SQLITE_IOERR_READ` — until it is healed. An fsync that does not fail is not done:
//! these tests kill processes and fail calls, they cut no power. The engine opens its database
//! on it by name (`EngineOptions::vfs`).
//!
//! This is the only unsafe code of the workspace outside uniffi's: the VFS is C's interface, so
//! there is no safe way to stand between SQLite and its files.
#![allow(unsafe_code)]

use std::ffi::{CString, c_int, c_void};
use std::mem::size_of;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use rusqlite::ffi;

/// A kind of file operation the VFS counts and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// `xRead`.
    Read = 0,
    /// `xWrite`.
    Write = 1,
    /// `xSync`.
    Sync = 2,
}

/// A failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A write fails with `SQLITE_IOERR_WRITE`, writing nothing.
    WriteError,
    /// A write stops halfway with `SQLITE_FULL`, as on a disk that just filled up.
    DiskFull,
    /// An fsync fails with `SQLITE_IOERR_FSYNC`.
    FsyncError,
    /// A read fails with `SQLITE_IOERR_READ`.
    ReadError,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 4] = [
        Fault::WriteError,
        Fault::DiskFull,
        Fault::FsyncError,
        Fault::ReadError,
    ];

    /// The operation it fails.
    pub fn io(self) -> Io {
        match self {
            Fault::WriteError | Fault::DiskFull => Io::Write,
            Fault::FsyncError => Io::Sync,
            Fault::ReadError => Io::Read,
        }
    }

    fn code(self) -> c_int {
        match self {
            Fault::WriteError => ffi::SQLITE_IOERR_WRITE,
            Fault::DiskFull => ffi::SQLITE_FULL,
            Fault::FsyncError => ffi::SQLITE_IOERR_FSYNC,
            Fault::ReadError => ffi::SQLITE_IOERR_READ,
        }
    }
}

const NEVER: u64 = u64::MAX;

/// The counters and the plan of one registered VFS.
struct Plan {
    calls: [AtomicU64; 3],
    /// The call number, per kind, from which calls fail.
    fail_from: [AtomicU64; 3],
    code: [AtomicI32; 3],
    failed: AtomicU64,
}

impl Plan {
    /// Count a call; the error code to answer it with, if it is to fail.
    fn hit(&self, io: Io) -> Option<c_int> {
        let i = io as usize;
        let n = self.calls[i].fetch_add(1, Ordering::SeqCst) + 1;
        if n < self.fail_from[i].load(Ordering::SeqCst) {
            return None;
        }
        self.failed.fetch_add(1, Ordering::SeqCst);
        Some(self.code[i].load(Ordering::SeqCst))
    }
}

/// A registered fault-injecting VFS. Registration lasts as long as the process: SQLite keeps
/// pointers to it, so it is never freed.
#[derive(Clone, Copy)]
pub struct FaultyVfs {
    name: &'static str,
    plan: &'static Plan,
}

impl std::fmt::Debug for FaultyVfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyVfs")
            .field("name", &self.name)
            .field("reads", &self.calls(Io::Read))
            .field("writes", &self.calls(Io::Write))
            .field("syncs", &self.calls(Io::Sync))
            .finish()
    }
}

/// Our VFS object: SQLite is handed a pointer to `base`, the first field, and the methods
/// cast it back to reach `real` and `plan`.
#[repr(C)]
struct VfsObject {
    base: ffi::sqlite3_vfs,
    real: *mut ffi::sqlite3_vfs,
    plan: &'static Plan,
}

/// Our file object. SQLite allocates `szOsFile` bytes for it: this header, then the real VFS's
/// own file object right after it.
#[repr(C)]
struct FaultyFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    plan: *const Plan,
}

impl FaultyVfs {
    /// Register a new one, under a name of its own, over the default VFS.
    pub fn register() -> FaultyVfs {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!("patrol-faulty-{}", NEXT.fetch_add(1, Ordering::SeqCst));
        let plan: &'static Plan = Box::leak(Box::new(Plan {
            calls: Default::default(),
            fail_from: [NEVER, NEVER, NEVER].map(AtomicU64::new),
            code: Default::default(),
            failed: AtomicU64::new(0),
        }));
        let c_name = CString::new(name.clone()).expect("no NUL in a VFS name");
        // SAFETY: sqlite3_vfs_find initialises SQLite if needed and returns the default VFS,
        // which is registered for the life of the process; it is only read here.
        let real = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
        assert!(!real.is_null(), "SQLite has no default VFS");
        // SAFETY: `real` points to a valid, never-freed sqlite3_vfs (above).
        let mut base = unsafe { *real };
        // Every method but xOpen stays the unix VFS's own: they are handed our object, and
        // unix's xDelete, xAccess, xFullPathname, xDl*, xRandomness, xSleep, xCurrentTime*,
        // xGetLastError and x*SystemCall ignore the VFS they are given (SQLite 3.51's os_unix.c).
        base.szOsFile = (size_of::<FaultyFile>() + base.szOsFile as usize) as c_int;
        base.zName = c_name.into_raw();
        base.pNext = ptr::null_mut();
        base.xOpen = Some(x_open);
        let object: &'static mut VfsObject = Box::leak(Box::new(VfsObject { base, real, plan }));
        // SAFETY: the object is leaked, so it outlives every connection that may use it; SQLite
        // only links it into its list and reads it.
        let rc = unsafe { ffi::sqlite3_vfs_register(&mut object.base, 0) };
        assert_eq!(rc, ffi::SQLITE_OK, "registering the faulty VFS");
        FaultyVfs {
            name: Box::leak(name.into_boxed_str()),
            plan,
        }
    }

    /// The name to open a database on it with.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// How many calls of a kind it has seen.
    pub fn calls(&self, io: Io) -> u64 {
        self.plan.calls[io as usize].load(Ordering::SeqCst)
    }

    /// Fail the `nth` call of the fault's kind from now on (1 is the next one), and every one
    /// after it, until [`FaultyVfs::heal`].
    pub fn fail(&self, fault: Fault, nth: u64) {
        let i = fault.io() as usize;
        self.plan.code[i].store(fault.code(), Ordering::SeqCst);
        let from = self.calls(fault.io()).saturating_add(nth.max(1));
        self.plan.fail_from[i].store(from, Ordering::SeqCst);
    }

    /// Stop failing.
    pub fn heal(&self) {
        for f in &self.plan.fail_from {
            f.store(NEVER, Ordering::SeqCst);
        }
    }

    /// How many calls it has failed.
    pub fn failed(&self) -> u64 {
        self.plan.failed.load(Ordering::SeqCst)
    }
}

/// The real file behind ours, its methods, and our plan.
///
/// # Safety
/// `file` must be a `FaultyFile` that `x_open` opened (SQLite calls the methods below only on
/// files whose `pMethods` is `METHODS`, which `x_open` sets only after the real open succeeded).
unsafe fn parts(
    file: *mut ffi::sqlite3_file,
) -> (
    *mut ffi::sqlite3_file,
    &'static ffi::sqlite3_io_methods,
    &'static Plan,
) {
    // SAFETY: by this function's contract, `file` is an opened FaultyFile whose `real` points
    // to the real file object right behind it, opened by the real VFS (so its pMethods is a
    // static table), and whose `plan` is leaked.
    unsafe {
        let file = file.cast::<FaultyFile>();
        let real = (*file).real;
        (real, &*(*real).pMethods, &*(*file).plan)
    }
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite calls this with our registered VfsObject (its first field is the
    // sqlite3_vfs it was given) and a file buffer of our szOsFile bytes, whose tail is room for
    // the real file object. The real xOpen gets the real VFS and that room.
    unsafe {
        let object = &*vfs.cast::<VfsObject>();
        let ours = file.cast::<FaultyFile>();
        let real_file = file
            .cast::<u8>()
            .add(size_of::<FaultyFile>())
            .cast::<ffi::sqlite3_file>();
        (*ours).base.pMethods = ptr::null();
        (*real_file).pMethods = ptr::null();
        let Some(real_open) = (*object.real).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = real_open(object.real, name, real_file, flags, out_flags);
        // SQLite closes a file whose pMethods is set even when xOpen failed; with nothing open
        // below, ours stays unset so nothing is closed twice.
        if !(*real_file).pMethods.is_null() {
            (*ours).real = real_file;
            (*ours).plan = object.plan;
            (*ours).base.pMethods = &METHODS;
        }
        rc
    }
}

/// Forward a call to the real file's method, or answer `missing` when it has none.
macro_rules! forward {
    ($file:expr, $method:ident, $missing:expr $(, $arg:expr)*) => {{
        // SAFETY: SQLite calls our methods only on files x_open opened (see `parts`).
        let (real, methods, _) = unsafe { parts($file) };
        match methods.$method {
            // SAFETY: the real method is called on the real file with SQLite's own arguments.
            Some(m) => unsafe { m(real $(, $arg)*) },
            None => $missing,
        }
    }};
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xClose, ffi::SQLITE_OK)
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: an opened FaultyFile (see `parts`).
    let (_, _, plan) = unsafe { parts(file) };
    if let Some(code) = plan.hit(Io::Read) {
        return code;
    }
    forward!(file, xRead, ffi::SQLITE_IOERR_READ, buf, amount, offset)
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: an opened FaultyFile (see `parts`).
    let (_, _, plan) = unsafe { parts(file) };
    match plan.hit(Io::Write) {
        None => forward!(file, xWrite, ffi::SQLITE_IOERR_WRITE, buf, amount, offset),
        Some(ffi::SQLITE_FULL) => {
            // The first half lands, as when the disk fills up in the middle of a write; a
            // failure of that half write changes nothing about the answer.
            let _ = forward!(
                file,
                xWrite,
                ffi::SQLITE_IOERR_WRITE,
                buf,
                amount / 2,
                offset
            );
            ffi::SQLITE_FULL
        }
        Some(code) => code,
    }
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    forward!(file, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size)
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, _flags: c_int) -> c_int {
    // SAFETY: an opened FaultyFile (see `parts`).
    let (_, _, plan) = unsafe { parts(file) };
    match plan.hit(Io::Sync) {
        Some(code) => code,
        // Counted and answered but not done: these tests cut no power (a killed process loses
        // nothing the page cache holds), and each real fsync costs milliseconds.
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn x_file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    forward!(file, xFileSize, ffi::SQLITE_IOERR_FSTAT, size)
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xLock, ffi::SQLITE_IOERR_LOCK, level)
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xUnlock, ffi::SQLITE_IOERR_UNLOCK, level)
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(
        file,
        xCheckReservedLock,
        ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
        out
    )
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    forward!(file, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xSectorSize, 4096)
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xDeviceCharacteristics, 0)
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(
        file,
        xShmMap,
        ffi::SQLITE_IOERR_SHMMAP,
        page,
        page_size,
        extend,
        out
    )
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    forward!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, offset, n, flags)
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    forward!(file, xShmBarrier, ())
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(file, xShmUnmap, ffi::SQLITE_OK, delete)
}

// Pages are never memory-mapped, so every read goes through xRead and is counted.
unsafe extern "C" fn x_fetch(
    _file: *mut ffi::sqlite3_file,
    _offset: ffi::sqlite3_int64,
    _amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite passes a valid pointer for the answer; null means "read it instead".
    unsafe { *out = ptr::null_mut() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_unfetch(
    _file: *mut ffi::sqlite3_file,
    _offset: ffi::sqlite3_int64,
    _page: *mut c_void,
) -> c_int {
    ffi::SQLITE_OK
}
