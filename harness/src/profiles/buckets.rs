//! Where a CPU sample goes: the bucket rule list and the classification of folded stacks.
//!
//! A sample is one folded stack (frames from the root to the leaf, kernel frames marked
//! `_[k]` as inferno's perf folder writes them). The rules are tried **in table order**; the
//! first rule that matches **any** frame of the stack decides the sample's bucket, so a page
//! fault taken inside `memcpy` counts as memory mapping, and a futex wait inside `malloc` as
//! locks. A stack no rule matches is `app` when its leaf frame is in user space, `other`
//! when it is in the kernel (interrupts, scheduling). The copy of `RULES` in `docs/profiles.md`
//! is kept in step by a unit test. This module only classifies; it runs nothing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A cost bucket, in the order the report shows them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Allocator,
    Locks,
    MemoryMapping,
    MemoryCopy,
    Network,
    App,
    Other,
}

impl Bucket {
    pub const ALL: [Bucket; 7] = [
        Bucket::Allocator,
        Bucket::Locks,
        Bucket::MemoryMapping,
        Bucket::MemoryCopy,
        Bucket::Network,
        Bucket::App,
        Bucket::Other,
    ];

    /// The buckets the libc's allocator decides: the issue's "allocator, locks and memory
    /// mapping" sum.
    pub const ALLOCATION: [Bucket; 3] = [Bucket::Allocator, Bucket::Locks, Bucket::MemoryMapping];

    /// The name in results files (`memory_copy`).
    pub fn id(self) -> &'static str {
        match self {
            Bucket::Allocator => "allocator",
            Bucket::Locks => "locks",
            Bucket::MemoryMapping => "memory_mapping",
            Bucket::MemoryCopy => "memory_copy",
            Bucket::Network => "network",
            Bucket::App => "app",
            Bucket::Other => "other",
        }
    }

    /// The name in the report (`memory copy`).
    pub fn label(self) -> &'static str {
        match self {
            Bucket::Allocator => "allocator",
            Bucket::Locks => "locks and futex",
            Bucket::MemoryMapping => "memory mapping",
            Bucket::MemoryCopy => "memory copy",
            Bucket::Network => "network and syscalls",
            Bucket::App => "the app itself",
            Bucket::Other => "other",
        }
    }
}

/// Which frames a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    User,
    Kernel,
    Any,
}

/// How a rule's pattern matches a frame's function name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Exact,
    Prefix,
    Contains,
}

/// One rule: frames on `side` whose name matches `pattern` put the sample in `bucket`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub bucket: Bucket,
    pub side: Side,
    pub how: Match,
    pub pattern: &'static str,
}

const fn rule(bucket: Bucket, side: Side, how: Match, pattern: &'static str) -> Rule {
    Rule {
        bucket,
        side,
        how,
        pattern,
    }
}

use Bucket::{Allocator as A, Locks as L, MemoryCopy as C, MemoryMapping as M, Network as N};
use Match::{Contains, Exact, Prefix};
use Side::{Kernel as K, User as U};

/// The rule list, tried in this order (see the module doc).
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // Memory mapping: page faults, the mapping syscalls, TLB shootdowns.
    rule(M, K, Prefix, "asm_exc_page_fault"),
    rule(M, K, Prefix, "exc_page_fault"),
    rule(M, K, Prefix, "handle_mm_fault"),
    rule(M, K, Prefix, "__x64_sys_mmap"),
    rule(M, K, Prefix, "__x64_sys_munmap"),
    rule(M, K, Prefix, "__x64_sys_madvise"),
    rule(M, K, Prefix, "__x64_sys_mremap"),
    rule(M, K, Prefix, "__x64_sys_mprotect"),
    rule(M, K, Prefix, "__x64_sys_brk"),
    rule(M, K, Prefix, "flush_tlb"),
    rule(M, K, Prefix, "native_flush_tlb"),
    rule(M, U, Exact, "mmap"),
    rule(M, U, Exact, "munmap"),
    rule(M, U, Exact, "madvise"),
    rule(M, U, Exact, "mremap"),
    rule(M, U, Exact, "mprotect"),
    rule(M, U, Prefix, "__mmap"),
    rule(M, U, Prefix, "__munmap"),
    rule(M, U, Prefix, "__madvise"),
    rule(M, U, Prefix, "__mremap"),
    rule(M, U, Exact, "brk"),
    rule(M, U, Exact, "sbrk"),
    // Locks and futex, kernel and user side.
    rule(L, K, Prefix, "futex_"),
    rule(L, K, Prefix, "__x64_sys_futex"),
    rule(L, K, Prefix, "do_futex"),
    rule(L, U, Prefix, "pthread_mutex_"),
    rule(L, U, Prefix, "__pthread_mutex_"),
    rule(L, U, Prefix, "pthread_rwlock_"),
    rule(L, U, Prefix, "__pthread_rwlock_"),
    rule(L, U, Prefix, "pthread_cond_"),
    rule(L, U, Prefix, "__pthread_cond_"),
    rule(L, U, Prefix, "__lll_"),
    rule(L, U, Exact, "__lock"),
    rule(L, U, Exact, "__unlock"),
    rule(L, U, Exact, "__wait"),
    rule(L, U, Exact, "__wake"),
    rule(L, U, Prefix, "__futex"),
    rule(L, U, Prefix, "__timedwait"),
    rule(L, U, Contains, "::sync::mutex::"),
    rule(L, U, Contains, "::sync::rwlock::"),
    rule(L, U, Contains, "::sync::condvar::"),
    rule(L, U, Contains, "::futex::"),
    rule(L, U, Contains, "parking_lot"),
    // The allocator: glibc, musl (mallocng), mimalloc, jemalloc, Rust's entry points.
    rule(A, U, Exact, "malloc"),
    rule(A, U, Exact, "free"),
    rule(A, U, Exact, "calloc"),
    rule(A, U, Exact, "realloc"),
    rule(A, U, Exact, "cfree"),
    rule(A, U, Exact, "aligned_alloc"),
    rule(A, U, Exact, "posix_memalign"),
    rule(A, U, Exact, "memalign"),
    rule(A, U, Exact, "malloc_usable_size"),
    rule(A, U, Prefix, "__libc_malloc"),
    rule(A, U, Prefix, "__libc_free"),
    rule(A, U, Prefix, "__libc_calloc"),
    rule(A, U, Prefix, "__libc_realloc"),
    rule(A, U, Prefix, "__posix_memalign"),
    rule(A, U, Prefix, "_int_"),
    rule(A, U, Prefix, "malloc_consolidate"),
    rule(A, U, Prefix, "sysmalloc"),
    rule(A, U, Prefix, "tcache_"),
    rule(A, U, Prefix, "arena_get"),
    rule(A, U, Prefix, "unlink_chunk"),
    rule(A, U, Prefix, "__malloc_"),
    rule(A, U, Exact, "alloc_slot"),
    rule(A, U, Exact, "alloc_group"),
    rule(A, U, Exact, "get_meta"),
    rule(A, U, Exact, "enframe"),
    rule(A, U, Exact, "nontrivial_free"),
    rule(A, U, Exact, "free_group"),
    rule(A, U, Exact, "try_avail"),
    rule(A, U, Exact, "activate_group"),
    rule(A, U, Exact, "size_to_class"),
    rule(A, U, Prefix, "mi_"),
    rule(A, U, Prefix, "_mi_"),
    rule(A, U, Prefix, "je_"),
    rule(A, U, Prefix, "_rjem_"),
    rule(A, U, Exact, "mallocx"),
    rule(A, U, Exact, "rallocx"),
    rule(A, U, Exact, "sdallocx"),
    rule(A, U, Exact, "dallocx"),
    rule(A, U, Prefix, "__rust_alloc"),
    rule(A, U, Prefix, "__rust_dealloc"),
    rule(A, U, Prefix, "__rust_realloc"),
    rule(A, U, Prefix, "__rdl_"),
    rule(A, U, Contains, "as core::alloc::global::GlobalAlloc>"),
    // Memory copy: the C library's copy and fill routines (user space; kernel copies of
    // socket data count as network).
    rule(C, U, Prefix, "memcpy"),
    rule(C, U, Prefix, "memmove"),
    rule(C, U, Prefix, "memset"),
    rule(C, U, Prefix, "mempcpy"),
    rule(C, U, Prefix, "__memcpy"),
    rule(C, U, Prefix, "__memmove"),
    rule(C, U, Prefix, "__memset"),
    rule(C, U, Prefix, "__mempcpy"),
    // Network and syscalls: any other way into the kernel, and its network stack.
    rule(N, K, Prefix, "entry_SYSCALL"),
    rule(N, K, Prefix, "do_syscall_64"),
    rule(N, K, Prefix, "syscall_exit"),
    rule(N, K, Prefix, "tcp_"),
    rule(N, K, Prefix, "inet_"),
    rule(N, K, Prefix, "sock_"),
    rule(N, K, Prefix, "net_rx_action"),
    rule(N, K, Prefix, "__netif_"),
    rule(N, K, Prefix, "ep_poll"),
    rule(N, U, Exact, "syscall"),
    rule(N, U, Prefix, "__syscall"),
    rule(N, U, Exact, "send"),
    rule(N, U, Exact, "recv"),
    rule(N, U, Exact, "sendto"),
    rule(N, U, Exact, "recvfrom"),
    rule(N, U, Exact, "read"),
    rule(N, U, Exact, "write"),
    rule(N, U, Exact, "writev"),
    rule(N, U, Exact, "epoll_wait"),
    rule(N, U, Exact, "accept4"),
    rule(N, U, Prefix, "__libc_send"),
    rule(N, U, Prefix, "__libc_recv"),
    rule(N, U, Prefix, "__libc_read"),
    rule(N, U, Prefix, "__libc_write"),
    rule(N, U, Prefix, "__GI___libc_write"),
    rule(N, U, Prefix, "__GI___libc_read"),
    rule(N, U, Prefix, "epoll_"),
];

/// One frame of a folded stack: its function name and whether it is a kernel frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub name: &'a str,
    pub kernel: bool,
}

impl<'a> Frame<'a> {
    /// A frame as inferno folds it: `name`, or `name_[k]` for the kernel.
    pub fn parse(text: &'a str) -> Frame<'a> {
        match text.strip_suffix("_[k]") {
            Some(name) => Frame { name, kernel: true },
            None => Frame {
                name: text,
                kernel: false,
            },
        }
    }
}

impl Rule {
    fn matches(&self, frame: Frame<'_>) -> bool {
        let side = match self.side {
            Side::User => !frame.kernel,
            Side::Kernel => frame.kernel,
            Side::Any => true,
        };
        side && match self.how {
            Match::Exact => frame.name == self.pattern,
            Match::Prefix => frame.name.starts_with(self.pattern),
            Match::Contains => frame.name.contains(self.pattern),
        }
    }
}

/// The bucket of one stack, frames from root to leaf (`a;b;c` split on `;`).
pub fn classify(stack: &str) -> Bucket {
    let frames: Vec<Frame> = stack.split(';').map(Frame::parse).collect();
    for rule in RULES {
        if frames.iter().any(|&f| rule.matches(f)) {
            return rule.bucket;
        }
    }
    match frames.last() {
        Some(leaf) if leaf.kernel => Bucket::Other,
        Some(_) => Bucket::App,
        None => Bucket::Other,
    }
}

/// Samples per bucket and per leaf function of a set of folded stacks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub samples: u64,
    pub buckets: BTreeMap<Bucket, u64>,
    /// Samples by leaf function (the frame that was running), for the top symbols.
    pub leaves: BTreeMap<String, u64>,
}

impl Tally {
    /// Tallies folded-stack lines (`root;…;leaf COUNT`); lines that do not parse are skipped.
    pub fn of_folded(folded: &str) -> Tally {
        let mut tally = Tally::default();
        for line in folded.lines() {
            let Some((stack, count)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(count) = count.trim().parse::<u64>() else {
                continue;
            };
            tally.samples += count;
            *tally.buckets.entry(classify(stack)).or_default() += count;
            let leaf = stack.rsplit(';').next().unwrap_or(stack);
            *tally.leaves.entry(leaf.to_string()).or_default() += count;
        }
        tally
    }

    /// A bucket's share of all samples, 0 to 1.
    pub fn share(&self, bucket: Bucket) -> f64 {
        if self.samples == 0 {
            return 0.0;
        }
        *self.buckets.get(&bucket).unwrap_or(&0) as f64 / self.samples as f64
    }

    /// The `n` leaf functions with the most samples, with their shares.
    pub fn top_leaves(&self, n: usize) -> Vec<(String, f64)> {
        let mut leaves: Vec<(&String, &u64)> = self.leaves.iter().collect();
        leaves.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        leaves
            .into_iter()
            .take(n)
            .map(|(name, &count)| (name.clone(), count as f64 / self.samples.max(1) as f64))
            .collect()
    }
}

/// The rule list as `docs/profiles.md`'s Markdown table shows it (kept in step by a test).
pub fn rules_markdown() -> String {
    let mut out = String::from("| bucket | side | match | pattern |\n|---|---|---|---|\n");
    for r in RULES {
        let side = match r.side {
            Side::User => "user",
            Side::Kernel => "kernel",
            Side::Any => "any",
        };
        let how = match r.how {
            Match::Exact => "is",
            Match::Prefix => "starts with",
            Match::Contains => "contains",
        };
        out += &format!("| {} | {side} | {how} | `{}` |\n", r.bucket.id(), r.pattern);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/profile-stacks.folded");

    #[test]
    fn each_stack_lands_in_its_bucket() {
        let buckets: Vec<Bucket> = FIXTURE
            .lines()
            .map(|l| classify(l.rsplit_once(' ').unwrap().0))
            .collect();
        use Bucket::*;
        assert_eq!(
            buckets,
            [
                Allocator,
                Locks,
                MemoryCopy,
                MemoryMapping,
                App,
                Network,
                Other
            ]
        );
    }

    #[test]
    fn shares_add_up_and_count_samples() {
        let tally = Tally::of_folded(FIXTURE);
        assert_eq!(tally.samples, 100);
        assert_eq!(tally.buckets[&Bucket::Allocator], 40);
        assert!((tally.share(Bucket::Locks) - 0.30).abs() < 1e-9);
        let sum: f64 = Bucket::ALL.iter().map(|&b| tally.share(b)).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert_eq!(tally.top_leaves(1), vec![("get_meta".to_string(), 0.4)]);
    }

    #[test]
    fn a_user_memset_is_a_copy_but_a_kernel_one_is_not() {
        assert_eq!(classify("app;main;memset"), Bucket::MemoryCopy);
        assert_eq!(classify("app;main;memset_[k]"), Bucket::Other);
        assert_eq!(classify("app;mi_malloc;memset"), Bucket::Allocator);
    }

    #[test]
    fn the_readme_lists_the_rules_in_force() {
        let page = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/profiles.md"),
        )
        .unwrap();
        assert!(
            page.contains(&rules_markdown()),
            "docs/profiles.md's bucket rule table is stale: paste `profiles::buckets::rules_markdown()`"
        );
    }
}
