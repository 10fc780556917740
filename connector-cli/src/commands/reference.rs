//! The SYSPRO codes a mapping names (GL accounts, product classes, branches, customers), where each
//! is written, and whether SYSPRO has it.

use std::collections::BTreeMap;

use connector_core::config::{Config, ConnectionConfig};
use rust_decimal::Decimal;
use serde::Serialize;
use syspro_client::SysproClient;
use syspro_client::bo::{ArInvoiceItem, ArInvoicePosting, ComFind, Where};

use crate::toml_lines::{Location, TomlSource};

/// What kind of SYSPRO record a code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// A GL account.
    GlAccount,
    /// An AR product class.
    ProductClass,
    /// An AR branch.
    Branch,
    /// An AR customer (cash customers and explicit customer mappings).
    Customer,
}

impl CodeKind {
    fn label(self) -> &'static str {
        match self {
            Self::GlAccount => "GL account",
            Self::ProductClass => "product class",
            Self::Branch => "branch",
            Self::Customer => "customer",
        }
    }
}

/// One setting that names a SYSPRO code.
#[derive(Debug, Clone)]
pub struct CodeRef {
    /// What it names.
    pub kind: CodeKind,
    /// The code.
    pub code: String,
    /// The key path of the setting, within its file.
    pub key_path: String,
    /// Where the setting is written.
    pub location: Location,
}

/// The verdict on one code.
#[derive(Debug, Clone, Serialize)]
pub struct CodeCheck {
    /// What it names.
    pub kind: CodeKind,
    /// The code.
    pub code: String,
    /// Whether SYSPRO has it.
    pub ok: bool,
    /// Why not, or what SYSPRO said.
    pub detail: String,
    /// Every setting that names it, as `file:line key`.
    pub settings: Vec<String>,
}

impl CodeCheck {
    /// `GL account "00-4010"`.
    pub fn title(&self) -> String {
        format!("{} {:?}", self.kind.label(), self.code)
    }
}

/// Every code the mapping of `c` (the connection at `index`) names, with the line of each setting.
pub fn code_refs(
    config_path: &std::path::Path,
    index: usize,
    c: &ConnectionConfig,
) -> Vec<CodeRef> {
    let (source, prefix) = match &c.mapping_file {
        Some(file) => (
            TomlSource::new(
                file.display().to_string(),
                std::fs::read_to_string(file).unwrap_or_default(),
            ),
            String::new(),
        ),
        None => (
            TomlSource::new(
                config_path.display().to_string(),
                std::fs::read_to_string(config_path).unwrap_or_default(),
            ),
            format!("connection[{index}].mapping."),
        ),
    };
    let m = &c.mapping;
    let mut raw: Vec<(CodeKind, String, String)> = vec![
        (
            CodeKind::ProductClass,
            m.clearing_product_class.clone(),
            "clearing_product_class".into(),
        ),
        (
            CodeKind::GlAccount,
            m.accounts.clearing.clone(),
            "accounts.clearing".into(),
        ),
        (
            CodeKind::GlAccount,
            m.accounts.freight.clone(),
            "accounts.freight".into(),
        ),
        (
            CodeKind::GlAccount,
            m.accounts.rounding.clone(),
            "accounts.rounding".into(),
        ),
    ];
    if let Some(a) = &m.accounts.discount {
        raw.push((CodeKind::GlAccount, a.clone(), "accounts.discount".into()));
    }
    if let Some(a) = &m.accounts.tax {
        raw.push((CodeKind::GlAccount, a.clone(), "accounts.tax".into()));
    }
    for (i, rule) in m.revenue.iter().enumerate() {
        raw.push((
            CodeKind::GlAccount,
            rule.account.clone(),
            format!("revenue[{i}].account"),
        ));
    }
    for (store, s) in &m.stores {
        let at = format!("stores.{}", quote_key(store));
        raw.push((CodeKind::Branch, s.branch.clone(), format!("{at}.branch")));
        if let Some(v) = &s.cash_customer {
            raw.push((CodeKind::Customer, v.clone(), format!("{at}.cash_customer")));
        }
        if let Some(v) = &s.revenue_account {
            raw.push((
                CodeKind::GlAccount,
                v.clone(),
                format!("{at}.revenue_account"),
            ));
        }
        if let Some(v) = &s.product_class {
            raw.push((
                CodeKind::ProductClass,
                v.clone(),
                format!("{at}.product_class"),
            ));
        }
    }
    if let Some(b) = &m.customers.create.branch {
        raw.push((
            CodeKind::Branch,
            b.clone(),
            "customers.create.branch".into(),
        ));
    }
    for (id, code) in &m.customers.by_id {
        raw.push((
            CodeKind::Customer,
            code.clone(),
            format!("customers.by_id.{}", quote_key(id)),
        ));
    }
    for (email, code) in &m.customers.by_email {
        raw.push((
            CodeKind::Customer,
            code.clone(),
            format!("customers.by_email.{}", quote_key(email)),
        ));
    }
    raw.into_iter()
        .filter(|(_, code, _)| !code.trim().is_empty())
        .map(|(kind, code, path)| {
            let key_path = format!("{prefix}{path}");
            let location = source.locate(&key_path);
            CodeRef {
                kind,
                code,
                key_path,
                location,
            }
        })
        .collect()
}

fn quote_key(key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// Asks SYSPRO about every code in `refs`: GL accounts through GENQGL, customers through COMFND,
/// branches and product classes through a validate-only ARSTIN (SYSPRO offers no query for them;
/// validation never posts).
///
/// # Errors
/// When SYSPRO cannot be asked at all (transport, logon); a missing code is a failed check, not an
/// error.
pub async fn check_codes(
    client: &SysproClient,
    refs: &[CodeRef],
    today: time::Date,
) -> Result<Vec<CodeCheck>, syspro_client::Error> {
    let mut by_code: BTreeMap<(CodeKind, String), Vec<&CodeRef>> = BTreeMap::new();
    for r in refs {
        by_code.entry((r.kind, r.code.clone())).or_default().push(r);
    }
    let mut verdicts: BTreeMap<(CodeKind, String), (bool, String)> = BTreeMap::new();
    let mut known_customer: Option<String> = None;
    for (kind, code) in by_code.keys() {
        match kind {
            CodeKind::GlAccount => {
                let v = client.validate_gl_code(code).await?;
                let verdict = match v {
                    syspro_client::bo::GlCodeValidation::Valid { description, .. } => {
                        (true, description)
                    }
                    syspro_client::bo::GlCodeValidation::Invalid { message, .. } => {
                        (false, format!("SYSPRO: {message}"))
                    }
                };
                verdicts.insert((*kind, code.clone()), verdict);
            }
            CodeKind::Customer => {
                let find = ComFind::new("ArCustomer")
                    .columns(["Customer", "Name"])
                    .filter(Where::eq("Customer", code.as_str()))
                    .return_rows(1);
                let found = client.find(&find).await?;
                let verdict = match found.rows.first() {
                    Some(row) => {
                        known_customer.get_or_insert_with(|| code.clone());
                        (true, row.non_empty("Name").unwrap_or_default().to_owned())
                    }
                    None => (false, "no such customer in SYSPRO".to_owned()),
                };
                verdicts.insert((*kind, code.clone()), verdict);
            }
            CodeKind::Branch | CodeKind::ProductClass => {}
        }
    }
    let branches: Vec<&String> = by_code
        .keys()
        .filter(|(k, _)| *k == CodeKind::Branch)
        .map(|(_, c)| c)
        .collect();
    let classes: Vec<&String> = by_code
        .keys()
        .filter(|(k, _)| *k == CodeKind::ProductClass)
        .map(|(_, c)| c)
        .collect();
    if !branches.is_empty() || !classes.is_empty() {
        match &known_customer {
            None => {
                for code in branches
                    .iter()
                    .map(|c| (CodeKind::Branch, c))
                    .chain(classes.iter().map(|c| (CodeKind::ProductClass, c)))
                {
                    verdicts.insert(
                        (code.0, (*code.1).clone()),
                        (false, "not checked: it is validated with an invoice to a mapped customer, and no mapped customer exists in SYSPRO".to_owned()),
                    );
                }
            }
            Some(customer) => {
                let first_class = classes.first().map_or_else(String::new, |c| (*c).clone());
                let mut items = Vec::new();
                let mut asked = Vec::new();
                for (n, branch) in branches.iter().enumerate() {
                    let mut item = ArInvoiceItem::invoice(
                        customer,
                        format!("MLCHECKB{n:04}"),
                        today,
                        Decimal::ONE,
                        first_class.clone(),
                    );
                    item.branch = Some((*branch).clone());
                    items.push(item);
                    asked.push((CodeKind::Branch, (*branch).clone()));
                }
                for (n, class) in classes.iter().enumerate() {
                    items.push(ArInvoiceItem::invoice(
                        customer,
                        format!("MLCHECKP{n:04}"),
                        today,
                        Decimal::ONE,
                        (*class).clone(),
                    ));
                    asked.push((CodeKind::ProductClass, (*class).clone()));
                }
                let mut posting = ArInvoicePosting::new(items);
                posting.parameters.validate_only = true;
                posting.parameters.apply_if_entire_document_valid = false;
                let result = client.post_ar_invoices(&posting).await?;
                for (i, (kind, code)) in asked.into_iter().enumerate() {
                    let field = match kind {
                        CodeKind::Branch => "branch",
                        _ => "productclass",
                    };
                    let item_number = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    let item = result.item(item_number).or_else(|| result.items.get(i));
                    let error = item.and_then(|item| {
                        item.messages
                            .errors
                            .iter()
                            .find(|e| e.field.to_ascii_lowercase() == field)
                    });
                    let verdict = match error {
                        Some(e) => (false, format!("SYSPRO: {}", e.description)),
                        None => (true, "accepted by a validate-only invoice".to_owned()),
                    };
                    verdicts.insert((kind, code), verdict);
                }
            }
        }
    }
    Ok(by_code
        .into_iter()
        .map(|((kind, code), settings)| {
            let (ok, detail) = verdicts
                .remove(&(kind, code.clone()))
                .unwrap_or((false, "not checked".to_owned()));
            CodeCheck {
                kind,
                code,
                ok,
                detail,
                settings: settings
                    .iter()
                    .map(|r| format!("{} {}", r.location, r.key_path))
                    .collect(),
            }
        })
        .collect())
}

/// The index of `c` in `config`, for key paths.
pub fn index_of(config: &Config, c: &ConnectionConfig) -> usize {
    config
        .connections
        .iter()
        .position(|x| x.name == c.name)
        .unwrap_or(0)
}
