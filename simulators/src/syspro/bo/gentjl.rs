//! GENTJL: GL journal posting (Transaction/Post).
//!
//! `EntryAmount` is signed: positive debits, negative credits. A journal must have entries, every
//! ledger code must exist, and the entries must sum to zero. Journal numbers are allocated per GL
//! year and period, starting at 1.

use rust_decimal::Decimal;

use super::super::enet::CallInput;
use super::super::state::{Journal, JournalLine, State};
use super::super::tables::{format_date_compact, money};
use super::super::xml::{XmlOut, counter};
use super::{FieldError, codes, date_field, flag, parse_number, read_doc, read_params};

const ROOT: &str = "PostGlJournal";

struct Checked {
    reference: String,
    errors: Vec<FieldError>,
    line_errors: Vec<(u32, FieldError)>,
    journal: Option<Journal>,
}

pub(super) fn post(st: &mut State, input: &CallInput) -> Result<Vec<u8>, String> {
    let params = read_params(&input.parameters, ROOT)?;
    let doc = read_doc(&input.xml_in, ROOT, "XmlIn")?;
    let validate_only = flag(&params, "ValidateOnly", 'N') == 'Y';
    let entire_document = flag(&params, "ApplyIfEntireDocumentValid", 'Y') == 'Y';

    let mut checked = Vec::new();
    for item in doc.children_named("Item") {
        let mut errors = Vec::new();
        let mut line_errors = Vec::new();
        let journal_date = date_field(item, "JournalDate", st.company_date)
            .map_err(|e| errors.push(e))
            .unwrap_or(st.company_date);
        let year = match item.text_of("PostingYear") {
            None | Some("") => journal_date.year(),
            Some(text) => match text.parse::<i32>() {
                Ok(y) if (1900..=2999).contains(&y) => y,
                _ => {
                    errors.push(FieldError::new(
                        "PostingYear",
                        text,
                        codes::INVALID_VALUE,
                        format!("Posting year '{text}' is invalid"),
                    ));
                    journal_date.year()
                }
            },
        };
        let period = match item.text_of("PostingPeriod") {
            None | Some("") => u8::from(journal_date.month()),
            Some(text) => match text.parse::<u8>() {
                Ok(p) if (1..=15).contains(&p) => p,
                _ => {
                    errors.push(FieldError::new(
                        "PostingPeriod",
                        text,
                        codes::INVALID_VALUE,
                        format!("Posting period '{text}' is invalid; expected 1 to 15"),
                    ));
                    1
                }
            },
        };
        let mut lines = Vec::new();
        let mut total = Decimal::ZERO;
        for (n, detail) in item.children_named("JournalDetails").enumerate() {
            let entry_number = detail
                .field("EntryNumber")
                .parse::<u32>()
                .unwrap_or(n as u32 + 1);
            let ledger_code = detail.field("LedgerCode").to_owned();
            if ledger_code.is_empty() {
                line_errors.push((
                    entry_number,
                    FieldError::new(
                        "LedgerCode",
                        "",
                        codes::REQUIRED,
                        "Ledger code is required".to_owned(),
                    ),
                ));
            } else if !st.ledger.gl_accounts.contains_key(&ledger_code) {
                line_errors.push((
                    entry_number,
                    FieldError::new(
                        "LedgerCode",
                        &ledger_code,
                        codes::LEDGER_CODE_NOT_FOUND,
                        format!("Ledger code '{ledger_code}' not found"),
                    ),
                ));
            }
            let amount_text = detail.field("EntryAmount");
            let amount = match parse_number(amount_text, 12, 2) {
                Some(a) => a,
                None => {
                    line_errors.push((
                        entry_number,
                        FieldError::new(
                            "EntryAmount",
                            amount_text,
                            codes::NOT_NUMERIC,
                            format!("Entry amount '{amount_text}' is not numeric"),
                        ),
                    ));
                    Decimal::ZERO
                }
            };
            total += amount;
            lines.push(JournalLine {
                entry_number,
                ledger_code,
                entry_amount: amount,
                reference: detail.field("Reference").to_owned(),
                comment: detail.field("Comment").to_owned(),
            });
        }
        if lines.is_empty() {
            errors.push(FieldError::new(
                "JournalDetails",
                "",
                codes::JOURNAL_NO_ENTRIES,
                "Journal has no entries".to_owned(),
            ));
        } else if line_errors.is_empty() && !total.is_zero() {
            let debits: Decimal = lines
                .iter()
                .map(|l| l.entry_amount)
                .filter(|a| a.is_sign_positive())
                .sum();
            errors.push(FieldError::new(
                "JournalDetails",
                &money(total),
                codes::JOURNAL_NOT_BALANCED,
                format!(
                    "Journal does not balance: debits {} credits {} difference {}",
                    money(debits),
                    money(debits - total),
                    money(total)
                ),
            ));
        }
        let reference = item.field("JournalReference").to_owned();
        let journal = (errors.is_empty() && line_errors.is_empty()).then(|| Journal {
            gl_year: year,
            gl_period: period,
            gl_journal: 0,
            journal_type: item.text_of("JournalType").unwrap_or("N").to_owned(),
            journal_date,
            journal_reference: reference.clone(),
            notation: item.field("Notation").to_owned(),
            source_code: item.field("SourceCode").to_owned(),
            status: if item.field("PostJournal").eq_ignore_ascii_case("N") {
                'U'
            } else {
                'P'
            },
            lines,
            posting_sequence: 0,
        });
        checked.push(Checked {
            reference,
            errors,
            line_errors,
            journal,
        });
    }

    let invalid = checked
        .iter()
        .filter(|c| !c.errors.is_empty() || !c.line_errors.is_empty())
        .count();
    let postings_invalid: usize = checked.iter().map(|c| c.line_errors.len()).sum();
    let apply = !validate_only && (!entire_document || invalid == 0);
    let mut journals_processed = 0;
    let mut postings_processed = 0;
    let mut out = XmlOut::with_plain_root("postgljournal");
    for c in checked.iter_mut() {
        out.open("Item");
        match c.journal.take() {
            Some(mut journal) => {
                if apply {
                    journal.gl_journal = st
                        .ledger
                        .next_journal_number(journal.gl_year, journal.gl_period);
                    journal.posting_sequence = st.ledger.next_sequence();
                }
                let debit: Decimal = journal
                    .lines
                    .iter()
                    .map(|l| l.entry_amount)
                    .filter(|a| a.is_sign_positive())
                    .sum();
                out.open("Transaction").open("Key");
                out.leaf("GlYear", &journal.gl_year.to_string())
                    .leaf("GlPeriod", &format!("{:02}", journal.gl_period))
                    .leaf(
                        "GlJournal",
                        &if apply {
                            format!("{:05}", journal.gl_journal)
                        } else {
                            String::new()
                        },
                    )
                    .close();
                out.leaf("JournalDate", &format_date_compact(journal.journal_date))
                    .leaf("NumOfEntries", &counter(journal.lines.len()))
                    .leaf("DebitAmount", &money(debit))
                    .leaf("CreditAmount", &money(debit))
                    .leaf("JnlPostingType", &journal.journal_type)
                    .leaf("Jnlstatus", &journal.status.to_string())
                    .leaf("Authorised", "Y")
                    .close();
                if apply {
                    journals_processed += 1;
                    postings_processed += journal.lines.len();
                    st.ledger.journals.insert(
                        (journal.gl_year, journal.gl_period, journal.gl_journal),
                        journal,
                    );
                }
            }
            None => {
                out.leaf("JournalReference", &c.reference);
                for e in &c.errors {
                    e.write(&mut out);
                }
                for (entry, e) in &c.line_errors {
                    out.open("JournalDetails")
                        .leaf("EntryNumber", &counter(*entry as usize));
                    e.write(&mut out);
                    out.close();
                }
            }
        }
        out.close();
    }
    out.open("StatusOfItems")
        .leaf("JournalsProcessed", &journals_processed.to_string())
        .leaf("JournalsInvalid", &invalid.to_string())
        .leaf("PostingsProcessed", &postings_processed.to_string())
        .leaf("PostingsInvalid", &postings_invalid.to_string())
        .close();
    Ok(out.finish())
}
