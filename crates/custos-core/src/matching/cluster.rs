//! Batch duplicate grouping over many prepared records, shared by `custos dedupe` on a
//! file and the duplicate scan over the database.
//!
//! Blocking keys hashed to u64 → sort by key → score every pair inside a block (all
//! pairs for small blocks, a sorted neighbourhood by name key for large ones) → union-find
//! over pairs at or above the threshold, strongest first, never joining two groups that
//! hold different valid USCCs or id numbers (that stops chains through a shared phone or a
//! look-alike name).

use std::hash::{DefaultHasher, Hash, Hasher};

use rayon::prelude::*;

use super::blocking::blocking_key_hashes;
use super::score::ScoreCut;
use super::{Prepared, PreparedIdent, MAX_BLOCKING_KEYS};

/// Tuning of [`cluster`].
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    /// Pairs scoring at least this are duplicates.
    pub threshold: f64,
    /// Blocks larger than this are compared as a sorted neighbourhood.
    pub max_block: usize,
    /// Window of the sorted neighbourhood.
    pub window: usize,
    /// Largest group union-find may build.
    pub max_cluster: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            threshold: super::Thresholds::default().definite,
            max_block: 24,
            window: 6,
            max_cluster: 200,
        }
    }
}

/// What a clustering found.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Matched pairs `(score, a, b)` with `a < b`, strongest first.
    pub pairs: Vec<(f32, u32, u32)>,
    /// Pairs in blocks: a pair counts once for every block that brings it together.
    pub candidates: u64,
    /// Pairs scored: a pair sharing several blocks is scored once where that suffices.
    pub scored: u64,
    /// Blocks with two or more records.
    pub blocks: usize,
    /// Time spent building and sorting the blocks (the rest of the call is scoring and
    /// union-find).
    pub blocking_time: std::time::Duration,
    /// Group root of every record (the lowest index in its group).
    pub roots: Vec<u32>,
}

/// Progress of the scoring stage: `total` blocks, then `done` more at a time.
pub trait Progress: Sync {
    fn start(&self, total: u64);
    fn advance(&self, done: u64);
}

/// No progress reporting.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

fn hash_key(k: &str) -> u64 {
    // DefaultHasher::new() has fixed keys: the same key hashes the same in every run.
    let mut h = DefaultHasher::new();
    k.hash(&mut h);
    h.finish()
}

/// [`hash_key`] of the concatenation of `parts` (SipHash is fed as a stream; a `str` ends
/// with 0xff), without building the concatenation.
fn hash_key_parts(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for part in parts {
        h.write(part.as_bytes());
    }
    h.write_u8(0xff);
    h.finish()
}

/// (key hash, row) for every blocking key of every row, sorted.
fn block_entries(prepared: &[Prepared]) -> Vec<(u64, u32)> {
    const CHUNK: usize = 4096;
    let mut entries: Vec<(u64, u32)> = prepared
        .par_chunks(CHUNK)
        .enumerate()
        .flat_map_iter(|(c, chunk)| {
            let mut out = Vec::with_capacity(chunk.len() * 16);
            let mut hashes = Vec::with_capacity(MAX_BLOCKING_KEYS);
            for (j, p) in chunk.iter().enumerate() {
                hashes.clear();
                blocking_key_hashes(p, &hash_key_parts, &mut hashes);
                let row = (c * CHUNK + j) as u32;
                out.extend(hashes.iter().map(|&h| (h, row)));
            }
            out
        })
        .collect();
    entries.par_sort_unstable();
    entries.dedup();
    entries
}

/// Ranges of `entries` with one key and at least two rows.
fn blocks(entries: &[(u64, u32)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].0 != entries[start].0 {
            if i - start >= 2 {
                out.push((start, i));
            }
            start = i;
        }
    }
    out
}

/// For every row, the ascending indices of the small blocks (all pairs compared) it is in,
/// so that a pair sharing several keys is scored once: in the first small block it shares.
struct SmallBlocks {
    /// `ids[start[r]..start[r + 1]]` are row r's blocks.
    start: Vec<usize>,
    ids: Vec<u32>,
}

impl SmallBlocks {
    fn new(
        rows: usize,
        entries: &[(u64, u32)],
        blocks: &[(usize, usize)],
        max_block: usize,
    ) -> Self {
        if blocks.len() >= u32::MAX as usize {
            // Block indices would not fit (hundreds of millions of rows): no row is in any
            // small block as far as skipping goes, so every pair is scored, as before.
            return SmallBlocks {
                start: vec![0; rows + 1],
                ids: Vec::new(),
            };
        }
        let small = || {
            blocks
                .iter()
                .enumerate()
                .filter(move |(_, &(s, e))| e - s <= max_block)
        };
        let mut start = vec![0usize; rows + 1];
        for (_, &(s, e)) in small() {
            for &(_, row) in &entries[s..e] {
                start[row as usize + 1] += 1;
            }
        }
        for r in 0..rows {
            start[r + 1] += start[r];
        }
        let mut fill: Vec<usize> = start[..rows].to_vec();
        let mut ids = vec![0u32; start[rows]];
        // Blocks in ascending order: every row's list comes out sorted.
        for (k, &(s, e)) in small() {
            for &(_, row) in &entries[s..e] {
                ids[fill[row as usize]] = k as u32;
                fill[row as usize] += 1;
            }
        }
        SmallBlocks { start, ids }
    }

    fn of(&self, row: u32) -> &[u32] {
        let r = row as usize;
        &self.ids[self.start[r]..self.start[r + 1]]
    }

    /// Whether rows a and b are both in a small block with an index below `before`.
    fn share_before(&self, a: u32, b: u32, before: u32) -> bool {
        let (x, y) = (self.of(a), self.of(b));
        let (mut i, mut j) = (0, 0);
        while i < x.len() && j < y.len() && x[i] < before && y[j] < before {
            match x[i].cmp(&y[j]) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
            }
        }
        false
    }
}

/// Matched pairs, pairs in blocks (a pair counted once per block it shares) and pairs
/// scored (each once per block kind, see [`SmallBlocks`]).
fn score_blocks(
    prepared: &[Prepared],
    entries: &[(u64, u32)],
    blocks: &[(usize, usize)],
    opts: &ClusterOptions,
    progress: &dyn Progress,
) -> (Vec<(f32, u32, u32)>, u64, u64) {
    progress.start(blocks.len() as u64);
    let small = SmallBlocks::new(prepared.len(), entries, blocks, opts.max_block);
    let sort_key = |i: u32| prepared[i as usize].names.first().map_or("", |n| &*n.key);
    let cut = ScoreCut::new(opts.threshold);
    const CHUNK: usize = 256;
    blocks
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut found = Vec::new();
            let mut candidates = 0u64;
            let mut scored = 0u64;
            // A pair (in either order: the score does not depend on it) is scored in the
            // first small block both rows are in, or, when they share none, in every large
            // block where the window brings them together; the score does not depend on
            // the block either, and pairs are deduplicated below.
            let mut check = |a: u32, b: u32, before: u32, found: &mut Vec<(f32, u32, u32)>| {
                candidates += 1;
                if small.share_before(a, b, before) {
                    return;
                }
                scored += 1;
                if let Some(s) = cut.score(&prepared[a as usize], &prepared[b as usize]) {
                    found.push((s as f32, a.min(b), a.max(b)));
                }
            };
            let mut rows: Vec<u32> = Vec::new();
            for (j, &(start, end)) in chunk.iter().enumerate() {
                let k = (c * CHUNK + j) as u32;
                rows.clear();
                rows.extend(entries[start..end].iter().map(|e| e.1));
                if rows.len() <= opts.max_block {
                    for (x, &a) in rows.iter().enumerate() {
                        for &b in &rows[x + 1..] {
                            check(a, b, k, &mut found);
                        }
                    }
                } else {
                    rows.sort_by(|&a, &b| sort_key(a).cmp(sort_key(b)).then(a.cmp(&b)));
                    for (x, &a) in rows.iter().enumerate() {
                        for &b in rows.iter().skip(x + 1).take(opts.window) {
                            // Sorted by name, the later row may come first; the score does
                            // not depend on the order, so a pair that any small block
                            // scores is left to it.
                            check(a, b, u32::MAX, &mut found);
                        }
                    }
                }
            }
            progress.advance(chunk.len() as u64);
            (found, candidates, scored)
        })
        .reduce(
            || (Vec::new(), 0, 0),
            |(mut p, c, s), (q, d, t)| {
                p.extend(q);
                (p, c + d, s + t)
            },
        )
}

/// Union-find whose groups remember their identifiers, so that no group holds two
/// different valid USCCs or id numbers.
struct Groups {
    parent: Vec<u32>,
    size: Vec<u32>,
    /// Hash of the group's valid USCC / id number (0 = none).
    uscc: Vec<u64>,
    id: Vec<u64>,
}

impl Groups {
    fn new(prepared: &[Prepared]) -> Groups {
        let valid =
            |v: Option<&PreparedIdent>| v.filter(|i| i.valid).map_or(0, |i| hash_key(&i.value) | 1);
        Groups {
            parent: (0..prepared.len() as u32).collect(),
            size: vec![1; prepared.len()],
            uscc: prepared.iter().map(|p| valid(p.uscc.as_ref())).collect(),
            id: prepared
                .iter()
                .map(|p| valid(p.id_number.as_ref()))
                .collect(),
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let up = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = up;
            x = up;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32, max_size: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        let (ia, ib) = (ra as usize, rb as usize);
        let conflict = |x: u64, y: u64| x != 0 && y != 0 && x != y;
        if conflict(self.uscc[ia], self.uscc[ib])
            || conflict(self.id[ia], self.id[ib])
            || (self.size[ia] + self.size[ib]) as usize > max_size
        {
            return false;
        }
        // The lower row index is the root, so cluster ids follow input order.
        let (root, child) = if ra < rb { (ia, ib) } else { (ib, ia) };
        self.parent[child] = root as u32;
        self.size[root] += self.size[child];
        self.uscc[root] = self.uscc[root].max(self.uscc[child]);
        self.id[root] = self.id[root].max(self.id[child]);
        true
    }
}

/// Group `prepared` into duplicate clusters. `skip(a, b)` drops a matched pair before
/// it can join two groups (pairs a person already judged distinct).
pub fn cluster(
    prepared: &[Prepared],
    opts: &ClusterOptions,
    progress: &dyn Progress,
    skip: &(dyn Fn(u32, u32) -> bool + Sync),
) -> Clustering {
    let started = std::time::Instant::now();
    let entries = block_entries(prepared);
    let block_list = blocks(&entries);
    let blocking_time = started.elapsed();
    let (mut pairs, candidates, scored) =
        score_blocks(prepared, &entries, &block_list, opts, progress);
    drop(entries);
    // A pair met in several blocks was scored in each (always to the same score): keep one.
    pairs.par_sort_unstable_by(|x, y| (x.1, x.2).cmp(&(y.1, y.2)).then(y.0.total_cmp(&x.0)));
    pairs.dedup_by(|x, y| x.1 == y.1 && x.2 == y.2);
    pairs.retain(|&(_, a, b)| !skip(a, b));
    // Strongest evidence first, so a weak link cannot block a strong one.
    pairs.par_sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let mut groups = Groups::new(prepared);
    for &(_, a, b) in &pairs {
        groups.union(a, b, opts.max_cluster);
    }
    let roots = (0..prepared.len() as u32).map(|i| groups.find(i)).collect();
    Clustering {
        pairs,
        candidates,
        scored,
        blocks: block_list.len(),
        blocking_time,
        roots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::{prepare, MatchRecord};
    use chrono::NaiveDate;

    fn rec(name: &str, uscc: &str, phone: &str) -> MatchRecord {
        MatchRecord {
            customer_type: "enterprise".into(),
            name: name.into(),
            uscc: uscc.into(),
            phones: if phone.is_empty() {
                vec![]
            } else {
                vec![phone.into()]
            },
            ..Default::default()
        }
    }

    #[test]
    fn key_hashes_are_the_hashes_of_the_keys() {
        assert_eq!(
            hash_key_parts(&["n:", "华为", "技术"]),
            hash_key("n:华为技术")
        );
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let mut r = rec(
            "北京华为技术有限公司深圳分公司",
            "914403001922038216",
            "13800138000",
        );
        r.short_name = "华为深圳".into();
        r.former_names = vec!["華為技術深圳".into(), "John Smith Trading".into()];
        r.birth_date = NaiveDate::from_ymd_opt(1980, 1, 2);
        r.email = "a@b.cn".into();
        for r in [r, rec("Smith John", "", ""), MatchRecord::default()] {
            let p = prepare(&r, today);
            let want: Vec<u64> = crate::matching::blocking_keys(&p)
                .iter()
                .map(|k| hash_key(k))
                .collect();
            let mut got = Vec::new();
            blocking_key_hashes(&p, &hash_key_parts, &mut got);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn every_pair_sharing_a_key_is_scored_once() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let records = [
            rec("华为技术有限公司", "914403001922038216", "0755-28780808"),
            rec("華為技術有限公司", "914403001922038216", ""),
            rec("华伟技术有限公司", "", "0755-28780808"),
            rec("深圳华为技术有限公司", "", "0755-28780809"),
            rec("华为", "", ""),
            rec("上海浦东发展银行股份有限公司", "", "021-61618888"),
            rec("浦东发展银行", "", "021-61618888"),
        ];
        let prepared: Vec<Prepared> = records.iter().map(|r| prepare(r, today)).collect();
        let opts = ClusterOptions::default();
        let keys: Vec<Vec<String>> = prepared
            .iter()
            .map(crate::matching::blocking_keys)
            .collect();
        let mut want = Vec::new();
        let mut sharing = 0;
        for a in 0..prepared.len() {
            for b in a + 1..prepared.len() {
                if keys[a].iter().any(|k| keys[b].contains(k)) {
                    sharing += 1;
                    let s = crate::matching::match_score_at_least(
                        &prepared[a],
                        &prepared[b],
                        opts.threshold,
                    );
                    if let Some(s) = s {
                        want.push((s as f32, a as u32, b as u32));
                    }
                }
            }
        }
        let c = cluster(&prepared, &opts, &Silent, &|_, _| false);
        assert_eq!(c.scored, sharing);
        assert!(c.candidates > c.scored, "{} candidates", c.candidates);
        let mut got = c.pairs.clone();
        got.sort_by_key(|x| (x.1, x.2));
        assert_eq!(got, want);
        assert!(want.len() >= 3, "{want:?}");
    }

    #[test]
    fn groups_variants_and_respects_skip() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let records = [
            rec("华为技术有限公司", "914403001922038216", "0755-28780808"),
            rec("華為技術有限公司", "914403001922038216", ""),
            rec("上海浦东发展银行股份有限公司", "", "021-61618888"),
        ];
        let prepared: Vec<Prepared> = records.iter().map(|r| prepare(r, today)).collect();
        let c = cluster(&prepared, &ClusterOptions::default(), &Silent, &|_, _| {
            false
        });
        assert_eq!(c.roots, vec![0, 0, 2]);
        assert_eq!(c.pairs.len(), 1);
        let c = cluster(&prepared, &ClusterOptions::default(), &Silent, &|a, b| {
            (a, b) == (0, 1)
        });
        assert_eq!(c.roots, vec![0, 1, 2]);
    }
}
