//! Duplicate check (查重) against the database: the blocking keys of every live customer
//! are kept as keyed hashes in `customer_match_keys`, written in the same transaction as
//! the customer, so every server process finds the same candidates. A check prepares the
//! draft, looks up the customers sharing any key (a capped number per key, newest first,
//! so a frequent key such as a common name prefix cannot turn into a scan), and scores the
//! best of them with the Fellegi–Sunter comparison of `custos_core::matching`.

use crate::customers::Customers;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use custos_core::matching::{
    blocking_keys, may_be_household, prepare, verdict_for_new, MatchRecord, Prepared, Thresholds,
    Verdict,
};
use custos_core::Violation;
use custos_store::duplicates::CustomerStamp;
use custos_store::{CustomerRow, StoreResult, Tx};

pub(crate) use super::disclosure::evidence_views;
use super::disclosure::Lens;
use super::input::{ContactInput, NewCustomer};
use super::masking::draft_has_pii;
use super::record::{Contact, Draft, OptionalText, Record, LIVE_STATUSES};
pub use super::report::{DuplicateCandidate, DuplicateReport, EvidenceView};
use super::report::{OUTSIDE_SCOPE_EN, OUTSIDE_SCOPE_ZH};
use super::scope::scoped_customer;
use super::stored::record_of;
use super::values::CustomerStatus;
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::codes::issue_date;
use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;
use crate::{rate_limit, to_json};

/// Newest customers looked at per blocking key.
const PER_KEY: i64 = 50;
/// Candidates scored per check (those sharing the most keys).
const MAX_COMPARED: usize = 60;
/// Candidates reported.
const MAX_REPORTED: usize = 10;
/// Prepared customers kept per cache generation (two generations are kept). The newest
/// holders of a frequent key (a two-character name prefix) span the last couple of
/// hundred thousand customers of a large database; at about 0.5 KiB a customer the two
/// generations take up to roughly 130 MiB.
const CACHE_GENERATION: usize = 131_072;

/// Which stored version of a customer a cached entry was prepared from. A customer's
/// `row_version` grows with every change and `updated_at` changes with it, so an entry
/// can only ever be found for the exact row it was built from — on any number of
/// processes sharing a database — and a stale entry is simply never hit again.
type StampKey = (i64, i64, i64);

/// One generation of [`MatchCache`]: looked up some sixty times per creation, so with a
/// fast hasher (the keys are ids and stamps, not chosen by users).
type Generation = HashMap<StampKey, Arc<Prepared>, foldhash::fast::RandomState>;

fn stamp_key(s: &CustomerStamp) -> StampKey {
    (s.id, s.row_version, s.updated_at)
}

/// The cache key of a stored row (the same as [`stamp_key`] of its stamp).
fn row_key(row: &CustomerRow) -> StampKey {
    (row.id, row.row_version, row.updated_at)
}

/// The matching features of a stored row, as a duplicate check compares them.
fn prepare_row(row: &CustomerRow, key: &PiiKey, today: chrono::NaiveDate) -> AppResult<Prepared> {
    Ok(prepare(&match_record(&record_of(row, key)?), today))
}

/// The matching features of recently created or compared customers. Preparing a
/// candidate (decrypting its identifiers, normalising and transliterating its names)
/// costs more than comparing it, and the same customers come up again and again as
/// candidates — during an import, the rows just written. Two generations: when the
/// young one fills up, the old one is dropped and the young one becomes old, so memory
/// stays bounded and what is used keeps being promoted. Beside them, the candidates a
/// batch of creations prepared ahead (see [`Customers::prepare_candidates_ahead`]), kept until
/// the next batch prepares its own: the generations turn over too fast at a million
/// customers to hold them until their checks come.
#[derive(Default)]
pub(crate) struct MatchCache {
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    young_old: [Generation; 2],
    ahead: Generation,
}

impl Generations {
    fn holds(&self, key: &StampKey) -> bool {
        self.young_old.iter().any(|y| y.contains_key(key)) || self.ahead.contains_key(key)
    }
}

/// Read ahead, for a batch of creations in `tx`, the duplicate candidates of all their
/// match keys (`hashes`), so that each creation's check is answered from memory (see
/// `Tx::prefetch_match_candidates`).
pub(super) async fn prefetch_candidates(tx: &mut Tx, hashes: &[i64]) -> StoreResult<()> {
    tx.prefetch_match_candidates(hashes, PER_KEY).await
}

/// Customers read per statement when a batch's candidates are prepared ahead.
const PREPARE_AHEAD_CHUNK: usize = 512;

impl Customers<'_> {
    /// After [`prefetch_candidates`]: prepare the candidates the batch's duplicate checks
    /// (one per list of match keys) are going to compare and that are not prepared yet
    /// ([`MatchCache`]), reading them in id order, a few hundred per statement. Each
    /// check would otherwise read its own few, one random page each; at a million
    /// customers that was most of a check's time, since the candidates of common keys
    /// reach far back. The checks still look every candidate up as before: this only
    /// fills the cache, and a row that cannot be prepared here is left to them.
    pub(crate) async fn prepare_candidates_ahead(
        &self,
        tx: &mut Tx,
        key_lists: &[&[i64]],
    ) -> StoreResult<()> {
        let limit = MAX_COMPARED as i64;
        let wanted = key_lists
            .iter()
            .filter_map(|keys| tx.read_ahead_candidates(keys, PER_KEY, limit))
            .flatten()
            .filter(|s| !s.merged);
        let mut ids = self.app.match_cache.not_cached(wanted);
        ids.sort_unstable();
        ids.dedup();
        let today = issue_date(self.app.config.code_timezone);
        // Each chunk is prepared on a blocking thread while the next one is read.
        let prepare_rows = |rows: Vec<CustomerRow>| {
            let key = self.app.config.pii_key.clone();
            tokio::task::spawn_blocking(move || {
                rows.iter()
                    .filter_map(|row| {
                        let p = prepare_row(row, &key, today).ok()?;
                        Some((row_key(row), Arc::new(p)))
                    })
                    .collect::<Vec<_>>()
            })
        };
        let mut ahead = Generation::default();
        let mut preparing = None;
        for chunk in ids.chunks(PREPARE_AHEAD_CHUNK) {
            let rows = tx.customers_by_ids(chunk).await?;
            if let Some(done) = preparing.replace(prepare_rows(rows)) {
                ahead.extend(done.await.unwrap_or_default());
            }
        }
        if let Some(done) = preparing {
            ahead.extend(done.await.unwrap_or_default());
        }
        self.app.match_cache.set_ahead(ahead);
        Ok(())
    }
}

impl MatchCache {
    fn get(&self, key: &StampKey) -> Option<Arc<Prepared>> {
        let mut guard = self.lock();
        let g = &mut *guard;
        if let Some(p) = g.young_old[0].get(key) {
            return Some(p.clone());
        }
        let p = match g.young_old[1].remove(key) {
            Some(p) => p,
            None => g.ahead.get(key)?.clone(),
        };
        Self::insert(&mut g.young_old, *key, p.clone());
        Some(p)
    }

    /// Whether `key` is cached (without promoting it).
    #[cfg(test)]
    fn contains(&self, key: &StampKey) -> bool {
        self.lock().holds(key)
    }

    /// The ids of `stamps` not cached (without promoting any), under one lock.
    fn not_cached(&self, stamps: impl Iterator<Item = CustomerStamp>) -> Vec<i64> {
        let g = self.lock();
        stamps
            .filter(|s| !g.holds(&stamp_key(s)))
            .map(|s| s.id)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        self.generations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replace the candidates prepared ahead.
    fn set_ahead(&self, ahead: Generation) {
        let mut g = self.lock();
        g.ahead = ahead;
    }

    fn put(&self, key: StampKey, p: Arc<Prepared>) {
        let mut g = self.lock();
        Self::insert(&mut g.young_old, key, p);
    }

    fn insert(g: &mut [Generation; 2], key: StampKey, p: Arc<Prepared>) {
        g[0].insert(key, p);
        if g[0].len() >= CACHE_GENERATION {
            g[1] = std::mem::take(&mut g[0]);
        }
    }
}

impl DuplicateReport {
    /// The report of `candidates` (in scope, any order) for a caller seeing through
    /// `lens`.
    fn new(
        mut candidates: Vec<DuplicateCandidate>,
        mut family: Vec<DuplicateCandidate>,
        outside_scope_match: bool,
        lens: Lens,
        thresholds: Thresholds,
    ) -> DuplicateReport {
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        candidates.truncate(MAX_REPORTED);
        family.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.code.cmp(&b.code))
        });
        family.truncate(MAX_REPORTED);
        let verdict = if outside_scope_match {
            "definite"
        } else {
            candidates.first().map_or("none", |c| c.verdict.as_str())
        };
        DuplicateReport {
            verdict: verdict.to_string(),
            definite_threshold: thresholds.definite,
            possible_threshold: thresholds.possible,
            candidates,
            outside_scope_match,
            outside_scope_message_zh: outside_scope_match.then(|| OUTSIDE_SCOPE_ZH.to_string()),
            outside_scope_message_en: outside_scope_match.then(|| OUTSIDE_SCOPE_EN.to_string()),
            pii_withheld: lens.withholds_pii(),
            possible_family_members: family,
        }
    }
}

/// The verdict of a possible family member (see [`DuplicateReport::possible_family_members`]).
const FAMILY_MEMBER: &str = "family_member";

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Definite => "definite",
        Verdict::Possible => "possible",
        Verdict::Distinct => "none",
    }
}

/// The phone numbers of a contact, stored ([`Contact`]) or as submitted ([`ContactInput`]).
pub(super) trait ContactPhones {
    fn phones(&self) -> [Option<&str>; 2];
}

macro_rules! contact_phones {
    ($($contact:ty),*) => {$(
        impl ContactPhones for $contact {
            fn phones(&self) -> [Option<&str>; 2] {
                [self.mobile.as_deref(), self.phone.as_deref()]
            }
        }
    )*};
}

contact_phones!(Contact, ContactInput);

/// The texts of a customer the matcher compares, borrowed from a [`Record`] (typed) or a
/// [`NewCustomer`] (as submitted, compared after the matcher's own normalisation) without
/// copying it first: the one conversion to [`MatchRecord`].
pub(super) struct MatchTexts<'a, C> {
    customer_type: &'a str,
    name: &'a str,
    short_name: Option<&'a str>,
    former_names: &'a [String],
    uscc: Option<&'a str>,
    id_number: Option<&'a str>,
    mobile: Option<&'a str>,
    phone: Option<&'a str>,
    email: Option<&'a str>,
    region_code: Option<&'a str>,
    address: Option<&'a str>,
    industry: Option<&'a str>,
    contacts: &'a [C],
}

/// `From` each customer shape that spells the compared fields alike (optional
/// ones read through [`OptionalText`], typed or not), written once.
macro_rules! match_texts_from {
    ($($shape:ty => $contact:ty),*) => {$(
        impl<'a> From<&'a $shape> for MatchTexts<'a, $contact> {
            fn from(rec: &'a $shape) -> Self {
                MatchTexts {
                    customer_type: &rec.customer_type,
                    name: &rec.name,
                    short_name: rec.short_name.text(),
                    former_names: &rec.former_names,
                    uscc: rec.uscc.text(),
                    id_number: rec.id_number.text(),
                    mobile: rec.mobile.text(),
                    phone: rec.phone.text(),
                    email: rec.email.text(),
                    region_code: rec.region_code.text(),
                    address: rec.address.text(),
                    industry: rec.industry.text(),
                    contacts: &rec.contacts,
                }
            }
        }
    )*};
}

match_texts_from!(Record => Contact, NewCustomer => ContactInput);

/// The fields of a customer the matcher compares: of a [`Record`] or a [`NewCustomer`]
/// (see [`MatchTexts`]).
pub(super) fn match_record<'a, C: ContactPhones + 'a>(
    rec: impl Into<MatchTexts<'a, C>>,
) -> MatchRecord {
    let t = rec.into();
    let mut phones: Vec<String> = Vec::new();
    let mut add = |p: Option<&str>| {
        if let Some(p) = p {
            if !phones.iter().any(|q| q == p) {
                phones.push(p.to_string());
            }
        }
    };
    add(t.mobile);
    add(t.phone);
    for p in t.contacts.iter().flat_map(ContactPhones::phones) {
        add(p);
    }
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    MatchRecord {
        customer_type: t.customer_type.to_string(),
        name: t.name.to_string(),
        short_name: text(t.short_name),
        former_names: t.former_names.to_vec(),
        uscc: text(t.uscc),
        id_number: text(t.id_number),
        phones,
        email: text(t.email),
        region_code: text(t.region_code),
        province: String::new(),
        city: String::new(),
        district: String::new(),
        address: text(t.address),
        industry: text(t.industry),
        birth_date: None,
    }
}

/// Keyed hashes of the record's blocking keys, as stored in `customer_match_keys`.
pub(super) fn match_hashes(rec: &Record, key: &PiiKey, today: chrono::NaiveDate) -> Vec<i64> {
    hashes_of(&prepare(&match_record(rec), today), key)
}

/// Keyed hashes of a prepared record's blocking keys, sorted and unique.
pub(super) fn hashes_of(p: &Prepared, key: &PiiKey) -> Vec<i64> {
    let mut h: Vec<i64> = blocking_keys(p).iter().map(|k| key.match_hash(k)).collect();
    h.sort_unstable();
    h.dedup();
    h
}

/// `hashes` (under the active key) and, while the key ring holds older keys (a rotation
/// whose re-keying may not be done), the same blocking keys under each of them: a
/// customer not yet re-keyed is found by its old match keys, so no duplicate slips in
/// during a rotation.
fn with_older_hashes<'a>(
    p: &Prepared,
    key: &PiiKey,
    hashes: &'a [i64],
) -> std::borrow::Cow<'a, [i64]> {
    let older: Vec<i64> = blocking_keys(p)
        .iter()
        .flat_map(|k| key.older_match_hashes(k))
        .collect();
    if older.is_empty() {
        return std::borrow::Cow::Borrowed(hashes);
    }
    let mut all = hashes.to_vec();
    all.extend(older);
    all.sort_unstable();
    all.dedup();
    std::borrow::Cow::Owned(all)
}

/// Do two records differ in a field the matcher looks at?
pub(super) fn matching_fields_changed(a: &Record, b: &Record) -> bool {
    match_record(a) != match_record(b)
}

impl Customers<'_> {
    /// Thresholds in force.
    pub fn duplicate_thresholds(&self) -> Thresholds {
        self.app.config.duplicate_thresholds
    }

    /// Candidates for a draft as submitted (applications, imports), inside `tx`, as
    /// `actor` may see them (see [`super::disclosure`]).
    pub(crate) async fn find_duplicates_for_input(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        draft: &NewCustomer,
        exclude: &[i64],
    ) -> AppResult<DuplicateReport> {
        self.find_duplicates(tx, actor, &match_record(draft), exclude)
            .await
    }

    /// Existing customers that may be the same as `rec` (its [`match_record`]; ignoring
    /// `exclude`), best first, as `actor` may see them.
    pub(super) async fn find_duplicates(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        rec: &MatchRecord,
        exclude: &[i64],
    ) -> AppResult<DuplicateReport> {
        let today = issue_date(self.app.config.code_timezone);
        let draft = prepare(rec, today);
        let hashes = hashes_of(&draft, &self.app.config.pii_key);
        self.find_duplicates_of(tx, actor, &draft, &hashes, exclude)
            .await
    }

    /// Remember the matching features of a customer just written (`row` as stored), so
    /// the next checks that meet it as a candidate need not read and prepare it again.
    pub(super) fn remember_prepared(&self, row: &CustomerRow, prepared: Prepared) {
        self.app.match_cache.put(row_key(row), Arc::new(prepared));
    }

    /// [`Customers::find_duplicates`] for a record already prepared, whose blocking-key
    /// hashes ([`hashes_of`]) are `hashes` (a creation has them for its index rows).
    pub(super) async fn find_duplicates_of(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        draft: &Prepared,
        hashes: &[i64],
        exclude: &[i64],
    ) -> AppResult<DuplicateReport> {
        let thresholds = self.duplicate_thresholds();
        let today = issue_date(self.app.config.code_timezone);
        let key = &self.app.config.pii_key;
        let limit = (MAX_COMPARED + exclude.len()) as i64;
        let lookup = with_older_hashes(draft, key, hashes);
        let mut stamps = tx.match_candidates(&lookup, PER_KEY, limit).await?;
        stamps.retain(|s| !exclude.contains(&s.id));
        // Only customers not prepared before are read in full.
        let mut prepared: Vec<(i64, Arc<Prepared>)> = Vec::with_capacity(stamps.len());
        let mut missing = Vec::new();
        for s in stamps.iter().filter(|s| !s.merged) {
            match self.app.match_cache.get(&stamp_key(s)) {
                Some(p) => prepared.push((s.id, p)),
                None => missing.push(s.id),
            }
        }
        let mut rows: HashMap<i64, CustomerRow> = HashMap::new();
        for row in tx.customers_by_ids(&missing).await? {
            if CustomerStatus::Merged.is(&row.status) {
                continue;
            }
            let p = Arc::new(prepare_row(&row, key, today)?);
            self.app.match_cache.put(row_key(&row), p.clone());
            prepared.push((row.id, p));
            rows.insert(row.id, row);
        }
        prepared.sort_unstable_by_key(|(id, _)| *id);
        let lens = Lens::of(actor);
        // The cheap score first: most candidates of a frequent key are strangers. People
        // sharing a phone or flat are compared too: they may be one household.
        let passing: Vec<&(i64, Arc<Prepared>)> = prepared
            .iter()
            .filter(|(_, other)| {
                lens.may_reach(draft, other, thresholds.possible) || may_be_household(draft, other)
            })
            .collect();
        let unread: Vec<i64> = passing
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !rows.contains_key(id))
            .collect();
        for row in tx.customers_by_ids(&unread).await? {
            rows.insert(row.id, row);
        }
        let mut candidates = Vec::new();
        let mut family = Vec::new();
        let mut outside_scope_match = false;
        for (id, other) in passing {
            let Some(row) = rows.get(id) else { continue };
            let visible = lens.sees(tx, actor, row).await?;
            let mut result = lens.compare(visible, draft, other);
            let verdict = verdict_for_new(draft, other, &mut result, &thresholds);
            match (verdict, visible) {
                // A household is told only inside the caller's scope, never counted outside.
                (Verdict::Distinct, true) if result.household => {
                    family.push(candidate(row, result, FAMILY_MEMBER));
                }
                (Verdict::Distinct, _) => {}
                (verdict, true) => candidates.push(candidate(row, result, verdict_str(verdict))),
                (verdict, false) => outside_scope_match |= verdict == Verdict::Definite,
            }
        }
        Ok(DuplicateReport::new(
            candidates,
            family,
            outside_scope_match,
            lens,
            thresholds,
        ))
    }

    /// `POST /api/v1/duplicates/check`: candidates for a draft record (nothing written).
    /// The draft need not be complete; fields are compared as entered after
    /// normalisation.
    ///
    /// The check is limited per user (`AppConfig::duplicate_check_limit`) and, when the
    /// draft holds personal data, audited with the names of the fields given.
    pub async fn check_duplicates(
        &self,
        actor: &Actor,
        draft: NewCustomer,
    ) -> AppResult<DuplicateReport> {
        actor.require("customer.read")?;
        let rec = Draft::from(&draft);
        if rec.name.trim().is_empty()
            && rec.uscc.is_none()
            && rec.id_number.is_none()
            && rec.mobile.is_none()
            && rec.phone.is_none()
            && rec.email.is_none()
            && rec.contacts.is_empty()
        {
            return Err(AppError::validation(
                "name",
                Violation::new(
                    "duplicate.nothing_to_compare",
                    "请至少填写名称、统一社会信用代码、身份证号、电话或邮箱之一",
                    "give at least a name, USCC, ID number, phone or e-mail",
                ),
            ));
        }
        let audited = draft_has_pii(&rec);
        let limit = self.app.config.duplicate_check_limit;
        let mut tx = if audited || limit.is_some() {
            self.app.db.begin().await?
        } else {
            self.app.db.begin_read().await?
        };
        if let Some(limit) = limit {
            let key = format!("duplicate.check:{}", actor.user_id);
            rate_limit::take(&mut tx, &key, limit, rate_limited(limit)).await?;
        }
        let report = self
            .find_duplicates_for_input(&mut tx, actor, &draft, &[])
            .await?;
        if audited {
            let mut r = record(actor, "duplicate.check", "duplicate_check", "check");
            r.after = to_json(&serde_json::json!({
                "fields": given_fields(&draft),
                "candidates": report.candidates.len(),
                "outside_scope_match": report.outside_scope_match,
                "verdict": report.verdict,
            }));
            append(&mut tx, r).await?;
        }
        if audited || limit.is_some() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(report)
    }

    /// Existing customers that may be the same as the customer `code` (in the caller's
    /// data scope), under the disclosure rules and the per-user limit of
    /// [`Customers::check_duplicates`]. The probe is the stored record, not anything the caller
    /// typed, so there is nothing to audit.
    pub async fn suspected_duplicates(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<DuplicateReport> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.app.db.begin().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        crate::customers::check_archive_readable(actor, &row)?;
        if let Some(limit) = self.app.config.duplicate_check_limit {
            let key = format!("duplicate.check:{}", actor.user_id);
            rate_limit::take(&mut tx, &key, limit, rate_limited(limit)).await?;
        }
        let rec = record_of(&row, &self.app.config.pii_key)?;
        let report = self
            .find_duplicates(&mut tx, actor, &match_record(&rec), &[row.id])
            .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Refuse a write that would create a definite duplicate unless a steward overrides
    /// it (with a reason, which the caller audits).
    pub(crate) fn guard_duplicates(
        &self,
        actor: &Actor,
        report: &DuplicateReport,
        override_requested: bool,
        reason: Option<&str>,
    ) -> AppResult<()> {
        if !report.is_definite() {
            return Ok(());
        }
        if !override_requested {
            let (zh, en) = report.definite_codes();
            return Err(AppError::Duplicate {
                violation: Violation::new(
                    "customer.duplicate",
                    format!(
                        "疑似与已有客户重复（{zh}），如确认不是同一客户，请由数据管理员填写原因后强制提交"
                    ),
                    format!(
                        "this looks like an existing customer ({en}); a data steward may override with a reason"
                    ),
                ),
                report: Box::new(report.clone()),
            });
        }
        actor.require("duplicate.manage")?;
        if reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(AppError::validation(
                "reason",
                Violation::new(
                    "reason.required",
                    "强制提交疑似重复客户须填写原因",
                    "overriding a duplicate warning needs a reason",
                ),
            ));
        }
        Ok(())
    }

    /// Build the match index for customers written before it existed (or after a
    /// restore from an older version). Runs once; a setting records that it is done.
    pub async fn ensure_match_index(&self) -> AppResult<()> {
        const DONE: &str = "match_index_v1";
        {
            let mut tx = self.app.db.begin_read().await?;
            let done = tx.setting(DONE).await?.is_some();
            tx.rollback().await?;
            if done {
                return Ok(());
            }
        }
        let today = issue_date(self.app.config.code_timezone);
        let key = &self.app.config.pii_key;
        let mut after = 0;
        loop {
            let mut tx = self.app.db.begin().await?;
            // Like every writer of match keys: no batch of creations on another server
            // may be checking duplicates against keys read ahead meanwhile.
            tx.lock_audit_head().await?;
            let rows = tx
                .customers_after(after, &CustomerStatus::keys(LIVE_STATUSES), 500)
                .await?;
            let Some(last) = rows.last().map(|r| r.id) else {
                tx.put_setting(DONE, "1").await?;
                tx.commit().await?;
                return Ok(());
            };
            for row in &rows {
                let rec = record_of(row, key)?;
                tx.replace_match_keys(row.id, &match_hashes(&rec, key, today), false)
                    .await?;
            }
            tx.commit().await?;
            after = last;
        }
    }
}

fn candidate(
    row: &CustomerRow,
    result: custos_core::matching::MatchResult,
    verdict: &str,
) -> DuplicateCandidate {
    DuplicateCandidate {
        code: row.code.clone(),
        name: row.name.clone(),
        customer_type: row.customer_type.clone(),
        status: row.status.clone(),
        score: (result.score * 1000.0).round() / 1000.0,
        verdict: verdict.into(),
        evidence: evidence_views(result.evidence),
    }
}

fn rate_limited(limit: rate_limit::RateLimit) -> Violation {
    Violation::new(
        "duplicate.rate_limited",
        format!(
            "查重过于频繁（每分钟至多 {} 次），请稍后再试",
            limit.per_minute
        ),
        format!(
            "too many duplicate checks (at most {} a minute); try again later",
            limit.per_minute
        ),
    )
}

/// The names of the fields a draft gives (never their values), sorted; a contact's as
/// `contacts.mobile` and so on.
fn given_fields(draft: &NewCustomer) -> Vec<String> {
    use serde_json::Value;
    fn given(v: &Value) -> bool {
        match v {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.trim().is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        }
    }
    let Ok(Value::Object(fields)) = serde_json::to_value(draft) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for (k, v) in &fields {
        match (k.as_str(), v) {
            ("contacts", Value::Array(contacts)) => {
                for c in contacts.iter().filter_map(Value::as_object) {
                    names.extend(
                        c.iter()
                            .filter(|(_, v)| given(v))
                            .map(|(f, _)| format!("contacts.{f}")),
                    );
                }
            }
            (_, v) if given(v) => names.push(k.clone()),
            _ => {}
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::lookups::Lookups;
    use crate::demo_data::DemoCustomers;
    use crate::App;

    fn prepared(name: &str) -> Arc<Prepared> {
        let rec = MatchRecord {
            customer_type: "enterprise".into(),
            name: name.into(),
            ..MatchRecord::default()
        };
        Arc::new(prepare(&rec, chrono::NaiveDate::default()))
    }

    /// Candidates prepared ahead are found (and promoted) until the next batch's replace
    /// them; the generations' turnover does not drop them.
    #[test]
    fn candidates_prepared_ahead_stay_until_replaced() {
        let cache = MatchCache::default();
        let mut ahead = Generation::default();
        ahead.insert((1, 1, 1), prepared("华为技术"));
        ahead.insert((2, 1, 1), prepared("中兴通讯"));
        cache.set_ahead(ahead);
        assert!(cache.contains(&(2, 1, 1)));
        // A stale stamp of the same customer is not a hit.
        assert!(cache.get(&(1, 2, 1)).is_none());
        assert!(cache.get(&(1, 1, 1)).is_some());
        for i in 0..2 * CACHE_GENERATION as i64 {
            cache.put((1_000 + i, 1, 1), prepared("甲"));
        }
        assert!(
            cache.get(&(2, 1, 1)).is_some(),
            "turned over with the generations"
        );
        cache.set_ahead(Generation::default());
        // Customer 1 was promoted when used, customer 2 since the turnover too.
        assert!(cache.contains(&(2, 1, 1)));
        assert!(
            !cache.contains(&(1, 1, 1)),
            "customer 1 turned over after its use"
        );
    }

    /// A batch of creations prepares the candidates its checks will compare before the
    /// first check runs: here, on a process that has prepared nothing yet, the stored
    /// customers a batch of their twins is checked against.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_prepares_its_candidates_ahead() -> Result<(), Box<dyn std::error::Error>> {
        let (app, admin, _dir) = crate::test_support::app_with_admin().await;
        let today = issue_date(app.config.code_timezone);
        let mut gen = DemoCustomers::new(5, today);
        let drafts: Vec<NewCustomer> = (0..30).map(|_| gen.next_customer()).collect();
        let codes = app
            .customers()
            .create_customers(&admin, drafts.clone())
            .await?;

        // Another process on the same database: nothing prepared yet.
        let other = App::from_db(app.db.clone(), (*app.config).clone());
        let key = &other.config.pii_key;
        let lists: Vec<Vec<i64>> = drafts
            .iter()
            .map(|d| hashes_of(&prepare(&match_record(d), today), key))
            .collect();
        let mut tx = other.db.begin().await?;
        let mut stamps = Vec::new();
        for code in &codes {
            let row = tx
                .customer_by_code(code)
                .await?
                .ok_or("customer not found")?;
            stamps.push(row_key(&row));
        }
        assert!(stamps.iter().all(|s| !other.match_cache.contains(s)));
        Lookups::for_creations(
            &mut tx,
            lists.len(),
            lists.iter().map(Vec::as_slice),
            Some(&other),
        )
        .await?;
        tx.rollback().await?;
        let missing: Vec<_> = stamps
            .iter()
            .filter(|s| !other.match_cache.contains(s))
            .collect();
        assert!(missing.is_empty(), "not prepared ahead: {missing:?}");
        Ok(())
    }
}
