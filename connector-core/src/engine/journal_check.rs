//! Asking SYSPRO's ledger whether a GL journal is already posted before one is sent.
//!
//! A GENTJL journal has no key SYSPRO checks for duplicates: sending it twice books it twice. Its
//! deterministic reference (by default the AR invoice number) is what the engine looks for in
//! `GenTransaction`, which holds one row per entry of every posted journal. A journal found there
//! is never sent again: its record is marked posted. The look-up runs before every GENTJL document
//! (first posts, reconciliation of records left in `posting`, replays after a halt, and after a
//! GENTJL answer was lost), so a lost answer, a crash or a restored state store cannot double a
//! journal. References are looked up in chunks, one COMFND query per chunk.

use std::collections::HashSet;

use syspro_client::bo::{self, ComFind, Condition, GEN_TRANSACTION, JOURNAL_REFERENCE_MAX_LEN};

use super::posting::JournalToSend;
use super::writes::Pending;
use super::{Engine, error_chain};
use crate::audit::AuditKind;
use crate::plan::PostingPlan;
use crate::state::{Record, StoreError};

/// References per COMFND query: each adds an expression to the query's URL, which must stay well
/// inside e.net's URL limit.
const REFERENCES_PER_QUERY: usize = 20;
/// Rows asked for per query. A query that returns this many may have been cut, and its references
/// are then looked up one by one.
const ROWS_PER_QUERY: u32 = 2000;

/// What SYSPRO's ledger says about one journal reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JournalLookup {
    /// A posted journal with this reference is in the ledger.
    Found,
    /// No posted journal has this reference.
    Absent,
    /// The look-up failed; nothing is known.
    Failed(String),
}

fn checkable(reference: &str) -> bool {
    let reference = reference.trim();
    !reference.is_empty() && reference.chars().count() <= JOURNAL_REFERENCE_MAX_LEN
}

impl Engine {
    /// Whether a posted journal with `reference` is in SYSPRO's ledger.
    pub(crate) async fn journal_in_ledger(&self, reference: &str) -> JournalLookup {
        if !checkable(reference) {
            return JournalLookup::Absent;
        }
        let found = self
            .on_session(|s| s.find_gl_journal_entries(reference))
            .await;
        match self.syspro_call("COMFND", found) {
            Ok(rows) if rows.is_empty() => JournalLookup::Absent,
            Ok(_) => JournalLookup::Found,
            Err(e) => JournalLookup::Failed(format!(
                "looking up GL journal {reference} failed: {}",
                error_chain(&e)
            )),
        }
    }

    /// The references among `references` that SYSPRO's ledger holds a posted journal for.
    ///
    /// # Errors
    /// The text of the first failed look-up: then nothing is known about any reference.
    async fn journals_in_ledger(&self, references: &[&str]) -> Result<HashSet<String>, String> {
        let mut found = HashSet::new();
        let wanted: Vec<&str> = references
            .iter()
            .copied()
            .filter(|r| checkable(r))
            .collect();
        for chunk in wanted.chunks(REFERENCES_PER_QUERY) {
            let Some((first, rest)) = chunk.split_first() else {
                continue;
            };
            let filter = rest
                .iter()
                .fold(bo::Where::eq("Reference", *first), |w, r| {
                    w.or("Reference", Condition::Eq, *r)
                });
            let query = ComFind::new(GEN_TRANSACTION)
                .columns(["Reference"])
                .filter(filter)
                .return_rows(ROWS_PER_QUERY);
            let answer = self.on_session(|s| s.find(&query)).await;
            let result = self.syspro_call("COMFND", answer).map_err(|e| {
                format!(
                    "looking up GL journals {} failed: {}",
                    chunk.join(", "),
                    error_chain(&e)
                )
            })?;
            if result.rows.len() >= ROWS_PER_QUERY as usize {
                // The answer may be cut: ask for each reference on its own.
                for reference in chunk {
                    match self.journal_in_ledger(reference).await {
                        JournalLookup::Found => {
                            found.insert(reference.trim().to_lowercase());
                        }
                        JournalLookup::Absent => {}
                        JournalLookup::Failed(e) => return Err(e),
                    }
                }
                continue;
            }
            for row in &result.rows {
                if let Some(reference) = row.get("Reference") {
                    found.insert(reference.trim().to_lowercase());
                }
            }
        }
        Ok(found)
    }

    /// Looks up the journals about to be sent, except those of invoices created a moment ago
    /// (`fresh`: SYSPRO cannot hold their journal yet). Those SYSPRO already holds are not sent
    /// again: their records are staged as posted. When the look-up fails nothing is sent and the
    /// records stay in `posting`, to be reconciled at the next cycle. Returns what may be sent.
    pub(crate) async fn drop_journals_in_ledger(
        &self,
        journals: Vec<JournalToSend>,
        summary: &mut super::CycleSummary,
        pending: &mut Pending,
    ) -> Result<Vec<(Record, PostingPlan)>, StoreError> {
        let references: Vec<&str> = journals
            .iter()
            .filter(|j| !j.fresh)
            .filter_map(|j| j.plan.journal.as_ref().map(|j| j.reference.as_str()))
            .collect();
        let found = if references.is_empty() {
            HashSet::new()
        } else {
            match self.journals_in_ledger(&references).await {
                Ok(found) => found,
                Err(lookup) => {
                    for journal in &journals {
                        self.stage_audit(
                            pending,
                            &journal.record.key,
                            AuditKind::Decided,
                            format!(
                                "GL journal not sent: {lookup}; left in posting for reconciliation"
                            ),
                            None,
                        );
                        summary
                            .errors
                            .push((journal.record.key.kind, lookup.clone()));
                    }
                    return Ok(Vec::new());
                }
            }
        };
        let mut to_send = Vec::with_capacity(journals.len());
        for JournalToSend { record, plan, .. } in journals {
            let reference = plan
                .journal
                .as_ref()
                .map(|j| j.reference.clone())
                .unwrap_or_default();
            if !found.contains(&reference.trim().to_lowercase()) {
                to_send.push((record, plan));
                continue;
            }
            self.stage_audit(
                pending,
                &record.key,
                AuditKind::Decided,
                format!("GL journal {reference} is already in SYSPRO's ledger; not sent again"),
                None,
            );
            self.stage_posted(
                pending,
                &record,
                &plan,
                "AR invoice and GL journal posted (journal found in SYSPRO)",
                summary,
            );
        }
        Ok(to_send)
    }
}
