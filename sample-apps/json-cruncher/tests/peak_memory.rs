//! The peak memory json-cruncher reports is its own: whatever ran in the process before the
//! exec (runc's init in a container, a wrapper script) must not show up in it.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Runs a tiny job, optionally touching `before_exec_mb` MB in the child before the exec;
/// returns the `max_rss_kb` it reports.
fn reported_kb(before_exec_mb: usize) -> u64 {
    let mut command = Command::new(env!("CARGO_BIN_EXE_json-cruncher"));
    command.args(["--size-mb", "0.01", "--threads", "1"]);
    if before_exec_mb > 0 {
        let bytes = before_exec_mb << 20;
        // SAFETY: between fork and exec only syscalls and writes to fresh private pages.
        unsafe {
            command.pre_exec(move || {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                if p == libc::MAP_FAILED {
                    return Err(std::io::Error::last_os_error());
                }
                for offset in (0..bytes).step_by(4096) {
                    std::ptr::write_volatile((p as *mut u8).add(offset), 1);
                }
                Ok(())
            });
        }
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    value["max_rss_kb"].as_u64().expect("a peak in kB")
}

#[test]
fn memory_touched_before_the_exec_is_not_the_apps() {
    let plain = reported_kb(0);
    let wrapped = reported_kb(60);
    assert!(plain > 0, "{plain}");
    // getrusage's ru_maxrss would report at least 61,440 kB here.
    assert!(
        wrapped < plain + 4 * 1024,
        "60 MB touched before the exec changed the reported peak: {plain} kB -> {wrapped} kB"
    );
}
