//! GL journal entries as posted (`GenTransaction`) and AR documents by date, read with COMFND.
//!
//! A posted GENTJL journal leaves one `GenTransaction` row per entry. Reading them back lets a
//! caller find out whether a journal with a given reference is already in the ledger (before
//! sending it again) and compare what was posted with what was planned. The table name is listed
//! among SYSPRO's OData entity sets; its column names (`GlCode`, `GlYear`, `GlPeriod`, `Journal`,
//! `EntryNumber`, `TransactionDate`, `Reference`, `Comment`, `EntryValue`) are inferred from
//! SYSPRO's data dictionary and not yet confirmed on a live install. `EntryValue` is read with
//! GENTJL's sign convention: positive is a debit, negative a credit (itself inferred).
//!
//! Range reads page with a key instead of an offset, because COMFND has no `$skip`: each page is
//! ordered by one column and the next page starts at the last key seen. A page that comes back
//! full may have cut the last key's rows in two, so those rows are dropped and read again at the
//! start of the next page; a key with more rows than a page holds is reported as an error rather
//! than skipped.

use std::collections::VecDeque;

use futures::stream::{self, BoxStream, StreamExt};
use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use super::comfnd::{ArInvoiceRow, ComFind, Condition, Row, Where};
use super::xml::format_date;
use crate::client::SysproClient;
use crate::error::Error;

/// The SYSPRO table of posted GL journal entries.
pub const GEN_TRANSACTION: &str = "GenTransaction";

/// The most entries one journal reference is expected to have; more is reported, not truncated.
const ENTRIES_PER_REFERENCE: u32 = 5_000;

/// Rows per page of a range read.
const RANGE_PAGE_ROWS: u32 = 1_000;

/// Longest journal reference GENTJL accepts (`JournalReference`), inferred.
pub const JOURNAL_REFERENCE_MAX_LEN: usize = 30;

/// One entry of a posted GL journal (`GenTransaction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlTransactionRow {
    /// `GlCode`: the GL account debited or credited.
    pub gl_code: String,
    /// `GlYear`.
    pub gl_year: Option<i32>,
    /// `GlPeriod`.
    pub gl_period: Option<u8>,
    /// `Journal`: the journal number within the year and period.
    pub journal: Option<u32>,
    /// `EntryNumber` within the journal.
    pub entry_number: Option<u32>,
    /// `TransactionDate`: the journal date.
    pub transaction_date: Option<Date>,
    /// `Reference`: the journal's reference.
    pub reference: Option<String>,
    /// `Comment`.
    pub comment: Option<String>,
    /// `EntryValue`: positive is a debit, negative a credit.
    pub entry_value: Decimal,
}

impl GlTransactionRow {
    /// Columns requested.
    pub const COLUMNS: &'static [&'static str] = &[
        "GlCode",
        "GlYear",
        "GlPeriod",
        "Journal",
        "EntryNumber",
        "TransactionDate",
        "Reference",
        "Comment",
        "EntryValue",
    ];

    /// Reads a row; `None` when `GlCode` is empty or `EntryValue` is not a number.
    pub fn from_row(row: &Row) -> Option<Self> {
        let number = |column: &str| row.non_empty(column).and_then(|v| v.trim().parse().ok());
        Some(Self {
            gl_code: row.non_empty("GlCode")?.to_owned(),
            gl_year: number("GlYear").and_then(|v: i64| i32::try_from(v).ok()),
            gl_period: number("GlPeriod").and_then(|v: i64| u8::try_from(v).ok()),
            journal: number("Journal").and_then(|v: i64| u32::try_from(v).ok()),
            entry_number: number("EntryNumber").and_then(|v: i64| u32::try_from(v).ok()),
            transaction_date: row.date("TransactionDate"),
            reference: row.non_empty("Reference").map(str::to_owned),
            comment: row.non_empty("Comment").map(str::to_owned),
            entry_value: row.decimal("EntryValue")?,
        })
    }

    /// Whether the entry is a debit (a positive value).
    pub fn is_debit(&self) -> bool {
        self.entry_value.is_sign_positive() && !self.entry_value.is_zero()
    }
}

impl ComFind {
    /// The `GenTransaction` rows whose `Reference` equals `reference`, in journal and entry order.
    pub fn gen_transactions_by_reference(reference: &str) -> Self {
        Self::new(GEN_TRANSACTION)
            .columns(GlTransactionRow::COLUMNS.iter().copied())
            .filter(Where::eq("Reference", reference))
            .order_by("GlYear")
            .order_by("GlPeriod")
            .order_by("Journal")
            .order_by("EntryNumber")
            .return_rows(ENTRIES_PER_REFERENCE)
    }
}

fn day(field: &str, date: Date) -> Result<String, Error> {
    format_date(date).ok_or_else(|| Error::InvalidInput {
        field: field.to_owned(),
        expected: "a date between years 1 and 9999".to_owned(),
    })
}

fn check_range(from: Date, to: Date) -> Result<(String, String), Error> {
    if from > to {
        return Err(Error::InvalidInput {
            field: "to".to_owned(),
            expected: format!("a date on or after {from}"),
        });
    }
    Ok((day("from", from)?, day("to", to)?))
}

/// Progress of a keyset-paged COMFND read.
struct KeyPager {
    client: SysproClient,
    table: String,
    columns: Vec<String>,
    filter: Where,
    key_column: String,
    page_rows: u32,
    /// The key the next page starts at (inclusive), `None` before the first page.
    from_key: Option<String>,
    buffer: VecDeque<Row>,
    done: bool,
}

impl KeyPager {
    async fn next_page(&mut self) -> Result<(), Error> {
        let filter = match &self.from_key {
            Some(key) => self
                .filter
                .clone()
                .and(&self.key_column, Condition::Ge, key.clone()),
            None => self.filter.clone(),
        };
        let find = ComFind::new(&self.table)
            .columns(self.columns.iter().cloned())
            .filter(filter)
            .order_by(&self.key_column)
            .return_rows(self.page_rows);
        let mut rows = self.client.find(&find).await?.rows;
        let full = rows.len() >= self.page_rows as usize;
        if !full {
            self.done = true;
            self.buffer.extend(rows);
            return Ok(());
        }
        let key_of = |row: &Row| row.get(&self.key_column).unwrap_or_default().to_owned();
        let last = rows.last().map(key_of).unwrap_or_default();
        rows.retain(|row| key_of(row) != last);
        if rows.is_empty() {
            return Err(Error::Output {
                business_object: super::COMFND.to_owned(),
                message: format!(
                    "{} or more {} rows share {} {last:?}; paging cannot go on",
                    self.page_rows, self.table, self.key_column
                ),
            });
        }
        self.buffer.extend(rows);
        self.from_key = Some(last);
        Ok(())
    }
}

impl SysproClient {
    /// Every row of `table` matching `filter`, read with COMFND page by page in the order of
    /// `key_column` (ascending), as the consumer asks for them.
    ///
    /// `columns` must include `key_column`; `filter` must join its expressions with `And` only,
    /// because the page condition is appended to it. Rows sharing one key value never span two
    /// pages: a key with `page_rows` or more rows ends the stream with [`Error::Output`].
    pub fn find_paged(
        &self,
        table: &str,
        columns: &[&str],
        filter: Where,
        key_column: &str,
        page_rows: u32,
    ) -> BoxStream<'static, Result<Row, Error>> {
        let pager = KeyPager {
            client: self.clone(),
            table: table.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            filter,
            key_column: key_column.to_owned(),
            page_rows: page_rows.max(2),
            from_key: None,
            buffer: VecDeque::new(),
            done: false,
        };
        stream::unfold(Some(pager), |state| async move {
            let mut pager = state?;
            loop {
                if let Some(row) = pager.buffer.pop_front() {
                    return Some((Ok(row), Some(pager)));
                }
                if pager.done {
                    return None;
                }
                if let Err(err) = pager.next_page().await {
                    return Some((Err(err), None));
                }
            }
        })
        .boxed()
    }

    /// The entries of every posted GL journal whose reference is `reference`, in journal and entry
    /// order; empty when no such journal is in the ledger. The check made before a journal is
    /// sent again.
    ///
    /// # Errors
    ///
    /// As [`SysproClient::find`]; [`Error::InvalidInput`] for a blank or over-long reference;
    /// [`Error::Output`] when SYSPRO returns as many rows as were asked for (the answer may be cut).
    pub async fn find_gl_journal_entries(
        &self,
        reference: &str,
    ) -> Result<Vec<GlTransactionRow>, Error> {
        super::xml::require_text("reference", reference, JOURNAL_REFERENCE_MAX_LEN)?;
        let result = self
            .find(&ComFind::gen_transactions_by_reference(reference))
            .await?;
        if result.rows.len() >= ENTRIES_PER_REFERENCE as usize {
            return Err(Error::Output {
                business_object: super::COMFND.to_owned(),
                message: format!(
                    "{} or more GenTransaction rows for reference {reference:?}; the answer may be \
                     incomplete",
                    ENTRIES_PER_REFERENCE
                ),
            });
        }
        Ok(result
            .rows
            .iter()
            .filter_map(GlTransactionRow::from_row)
            .collect())
    }

    /// The entries of GL journals dated `from` to `to` (inclusive), streamed page by page and
    /// ordered by `Reference`, so all the entries of one reference arrive together.
    ///
    /// Rows whose `GlCode` or `EntryValue` cannot be read are skipped.
    ///
    /// # Errors
    ///
    /// The stream yields [`Error::InvalidInput`] for `from` after `to`, then the errors of
    /// [`SysproClient::find_paged`].
    pub fn gl_journal_entries_between(
        &self,
        from: Date,
        to: Date,
    ) -> BoxStream<'static, Result<GlTransactionRow, Error>> {
        let (from, to) = match check_range(from, to) {
            Ok(range) => range,
            Err(err) => return stream::once(async move { Err(err) }).boxed(),
        };
        let filter = Where::new("TransactionDate", Condition::Ge, from).and(
            "TransactionDate",
            Condition::Le,
            to,
        );
        self.find_paged(
            GEN_TRANSACTION,
            GlTransactionRow::COLUMNS,
            filter,
            "Reference",
            RANGE_PAGE_ROWS,
        )
        .filter_map(|row| async move {
            match row {
                Ok(row) => GlTransactionRow::from_row(&row).map(Ok),
                Err(err) => Some(Err(err)),
            }
        })
        .boxed()
    }

    /// The AR documents (invoices, credit and debit notes) dated `from` to `to` (inclusive),
    /// streamed page by page and ordered by `Invoice`.
    ///
    /// # Errors
    ///
    /// As [`SysproClient::gl_journal_entries_between`].
    pub fn ar_invoices_between(
        &self,
        from: Date,
        to: Date,
    ) -> BoxStream<'static, Result<ArInvoiceRow, Error>> {
        let (from, to) = match check_range(from, to) {
            Ok(range) => range,
            Err(err) => return stream::once(async move { Err(err) }).boxed(),
        };
        let filter =
            Where::new("InvoiceDate", Condition::Ge, from).and("InvoiceDate", Condition::Le, to);
        self.find_paged(
            "ArInvoice",
            ArInvoiceRow::COLUMNS,
            filter,
            "Invoice",
            RANGE_PAGE_ROWS,
        )
        .filter_map(|row| async move {
            match row {
                Ok(row) => ArInvoiceRow::from_row(&row).map(Ok),
                Err(err) => Some(Err(err)),
            }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn by_reference_query_is_exact() {
        let xml = ComFind::gen_transactions_by_reference("WB100001")
            .query_xml()
            .unwrap();
        assert!(
            xml.contains("<TableName>GenTransaction</TableName>"),
            "{xml}"
        );
        assert!(xml.contains("<ReturnRows>5000</ReturnRows>"), "{xml}");
        assert!(
            xml.contains(
                "<Column>Reference</Column><Condition>EQ</Condition><Value>WB100001</Value>"
            ),
            "{xml}"
        );
        assert!(
            xml.ends_with(
                "<OrderBy><Column>GlYear</Column><Column>GlPeriod</Column>\
                 <Column>Journal</Column><Column>EntryNumber</Column></OrderBy></Query>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn rows_read_padded_numbers_and_signed_values() {
        let result = super::super::FindResult::parse(
            "<GenTransaction><Row><GlCode>00-4010 </GlCode><GlYear>2026</GlYear>\
             <GlPeriod>03</GlPeriod><Journal>00012</Journal><EntryNumber>2</EntryNumber>\
             <TransactionDate>2026-03-14</TransactionDate><Reference>WB100001  </Reference>\
             <Comment/><EntryValue>       -100.00</EntryValue></Row>\
             <Row><GlCode/><EntryValue>1</EntryValue></Row>\
             <RowsReturned>       2</RowsReturned></GenTransaction>",
        )
        .unwrap();
        let rows: Vec<_> = result
            .rows
            .iter()
            .filter_map(GlTransactionRow::from_row)
            .collect();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.gl_code, "00-4010");
        assert_eq!(row.gl_period, Some(3));
        assert_eq!(row.journal, Some(12));
        assert_eq!(row.transaction_date, Some(date!(2026 - 03 - 14)));
        assert_eq!(row.reference.as_deref(), Some("WB100001"));
        assert_eq!(row.comment, None);
        assert_eq!(row.entry_value, Decimal::new(-10000, 2));
        assert!(!row.is_debit());
    }

    #[test]
    fn a_reversed_range_is_refused() {
        let err = check_range(date!(2026 - 03 - 31), date!(2026 - 03 - 01)).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "to"));
    }
}
